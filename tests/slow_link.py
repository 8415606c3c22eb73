"""A TCP proxy in front of a live server that carries request bytes at a set rate.

tus-js-client reports progress at most every 100 ms; over loopback a whole file can be sent within
one such interval, and then its "abort at 40 %" comes after the last byte. Through this link the
upload takes seconds, so the abort lands mid-file whatever the machine's load. (The benchmarks'
``wan_proxy.py`` emulates a wide-area link with delay and back-pressure; this is the small,
thread-based version the client tests need.)
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

MiB = 1024 * 1024


class SlowLink:
    """A TCP proxy in front of the server that carries request bytes at ``rate`` bytes/s."""

    def __init__(self, port: int, rate: int) -> None:
        self.target, self.rate = port, rate
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, slow: bool) -> None:
        block = 64 * 1024
        try:
            while data := source.recv(block):
                sink.sendall(data)
                if slow:
                    time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        self.listener.close()
