"""The benchmarks' wide-area link (``benchmarks/wan_proxy.py``): delay, per-connection rate, bytes intact.

The bounds are the link's physics (a round trip cannot beat twice the delay, a MiB cannot pass a
1 MiB/s link in less than a second), so they hold on a loaded machine; only the test that several
connections each get their own rate has an upper bound, with a wide margin.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

wan_proxy = pytest.importorskip("benchmarks.wan_proxy", reason="benchmarks/ is not in this tree")
MiB = wan_proxy.MiB


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    """A TCP server that sends back every byte it receives, one thread per connection."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[:2]
    listener.close()


def echo(port: int, payload: bytes) -> bytes:
    """Send ``payload`` through the proxy and read as many bytes back."""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        sender = threading.Thread(target=conn.sendall, args=(payload,))
        sender.start()
        received = bytearray()
        while len(received) < len(payload):
            data = conn.recv(65536)
            if not data:
                break
            received += data
        sender.join()
        return bytes(received)


def test_a_round_trip_costs_twice_the_delay(echo_server: tuple[str, int]) -> None:
    with wan_proxy.WanProxy(echo_server, delay=0.05, rate=100 * MiB) as proxy:
        echo(proxy.port, b"x")  # connect once, so that only the round trip is timed below
        started = time.monotonic()
        assert echo(proxy.port, b"ping") == b"ping"
        # Connection set-up is not delayed (it is local), each byte is: 50 ms out, 50 ms back.
        assert time.monotonic() - started >= 0.095


def test_the_rate_caps_a_connection_and_keeps_its_bytes(echo_server: tuple[str, int]) -> None:
    payload = os.urandom(2 * MiB)
    with wan_proxy.WanProxy(echo_server, delay=0.001, rate=4 * MiB) as proxy:
        started = time.monotonic()
        assert echo(proxy.port, payload) == payload
        assert time.monotonic() - started >= 0.45  # 2 MiB at 4 MiB/s: half a second at least


def test_each_connection_gets_its_own_rate(echo_server: tuple[str, int]) -> None:
    payloads = [os.urandom(2 * MiB) for _ in range(2)]
    with wan_proxy.WanProxy(echo_server, delay=0.001, rate=2 * MiB) as proxy:
        started = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            received = list(pool.map(lambda payload: echo(proxy.port, payload), payloads))
        elapsed = time.monotonic() - started
    assert received == payloads
    assert proxy.connections == 2
    # One connection moves 2 MiB in about a second; two share nothing, so both end together,
    # well before the two seconds they would take one after the other.
    assert 0.95 <= elapsed < 1.8
