"""A user-space wide-area link: a TCP proxy that delays every byte and caps each connection's rate.

This kernel has no ``netem`` qdisc, so the parallel-upload benchmark puts this proxy between the
client and the server. Each accepted connection gets its own upstream connection and, in each
direction, a one-way delay (``--delay-ms``, so a round trip costs twice that) and a rate cap
(``--rate-mib``, MiB/s per connection and direction). The cap stands for what the congestion window
of one TCP flow over a long path allows: several connections together move several times more.

Back-pressure is kept: at most one bandwidth-delay product (plus one read) is in flight per
direction, so a sender that outruns the link waits, as it would on a real one.

    .venv/bin/python benchmarks/wan_proxy.py --target 127.0.0.1:8000 --listen 127.0.0.1:9000 \
        --delay-ms 20 --rate-mib 8

From Python (the benchmark's way)::

    with WanProxy(("127.0.0.1", 8000), delay=0.020, rate=8 * MiB) as proxy:
        httpx.put(f"http://127.0.0.1:{proxy.port}/api/uploads/", ...)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
import time
from collections import deque
from types import TracebackType

MiB = 1024 * 1024
READ_SIZE = 64 * 1024


class Link:
    """One direction of one connection: bytes leave ``delay`` seconds after they arrived, no faster
    than ``rate`` bytes per second, with at most a bandwidth-delay product in flight."""

    def __init__(self, delay: float, rate: float) -> None:
        self.delay = delay
        self.rate = rate
        self.window = max(READ_SIZE, int(rate * delay) + READ_SIZE)
        self.in_flight = 0
        self.queue: deque[tuple[float, bytes]] = deque()
        self.changed = asyncio.Condition()
        self.closed = False

    async def pump(self, reader: asyncio.StreamReader) -> None:
        """Read from the sender while the window allows; mark the link closed at end of stream."""
        try:
            while True:
                async with self.changed:
                    await self.changed.wait_for(lambda: self.in_flight < self.window or self.closed)
                    if self.closed:  # the receiver went away
                        return
                data = await reader.read(READ_SIZE)
                async with self.changed:
                    if not data:
                        self.closed = True
                    else:
                        self.queue.append((time.monotonic(), data))
                        self.in_flight += len(data)
                    self.changed.notify_all()
                if not data:
                    return
        except (ConnectionError, OSError):
            async with self.changed:
                self.closed = True
                self.changed.notify_all()

    async def deliver(self, writer: asyncio.StreamWriter) -> None:
        """Write each read to the receiver at its due time, paced to the rate."""
        next_free = 0.0
        try:
            while True:
                async with self.changed:
                    await self.changed.wait_for(lambda: bool(self.queue) or self.closed)
                    if not self.queue:
                        break
                    arrived, data = self.queue.popleft()
                due = max(arrived + self.delay, next_free)
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                next_free = max(due, time.monotonic()) + len(data) / self.rate
                writer.write(data)
                await writer.drain()
                async with self.changed:
                    self.in_flight -= len(data)
                    self.changed.notify_all()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            async with self.changed:  # the receiver went away: stop reading from the sender
                self.closed = True
                self.queue.clear()
                self.changed.notify_all()


class WanProxy:
    """The proxy, served by an event loop in a background thread (a context manager)."""

    def __init__(
        self,
        target: tuple[str, int],
        *,
        delay: float,
        rate: float,
        listen: tuple[str, int] = ("127.0.0.1", 0),
    ) -> None:
        self.target = target
        self.delay = delay
        self.rate = rate
        self.listen = listen
        self.port = 0
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        forward, backward = Link(self.delay, self.rate), Link(self.delay, self.rate)
        try:
            await asyncio.gather(
                forward.pump(reader),
                forward.deliver(up_writer),
                backward.pump(up_reader),
                backward.deliver(writer),
            )
        finally:
            for stream in (writer, up_writer):
                with contextlib.suppress(OSError):
                    stream.close()

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._handle, *self.listen)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def start(self) -> WanProxy:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result()
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            # Let the connections' tasks run their clean-up before the loop closes under them.
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> WanProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", type=_address, required=True, help="HOST:PORT of the server")
    parser.add_argument("--listen", type=_address, default=("127.0.0.1", 0), help="HOST:PORT")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="one-way delay")
    parser.add_argument("--rate-mib", type=float, default=8.0, help="MiB/s per connection")
    args = parser.parse_args(argv)
    proxy = WanProxy(
        args.target, delay=args.delay_ms / 1000, rate=args.rate_mib * MiB, listen=args.listen
    )
    with proxy:
        print(f"listening on {args.listen[0]}:{proxy.port} -> {args.target[0]}:{args.target[1]}")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
