"""Loopback HTTP load for the server benchmarks.

The server runs in a child process on a free loopback port and reports its own CPU time on
request, so a benchmark can tell the server's cost per request apart from the client's on a
machine whose cores they share. The load comes from a minimal keep-alive HTTP/1.1 client
(raw ``asyncio`` streams), so the client itself costs little.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection

from aiohttp import web

from bench.harness import closed_loop, percentiles

__all__ = ["answer_cpu", "exchange", "http_get", "load", "report", "start_loopback"]


async def start_loopback(app: web.Application) -> int:
    """Serve ``app`` on a free loopback port (no access log); returns the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    port: int = sock.getsockname()[1]
    return port


def answer_cpu(conn: Connection) -> None:
    """Answer every true message on ``conn`` with this process's CPU seconds, from a thread."""

    def answer() -> None:
        while conn.recv():
            conn.send(time.process_time())

    threading.Thread(target=answer, daemon=True).start()


def http_get(path: str, headers: dict[str, str] | None = None) -> bytes:
    """The bytes of a keep-alive ``GET`` request."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> None:
    """Send ``request`` and read its whole ``200`` answer (``Content-Length`` framed)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.decode(errors="replace"))
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)


async def load(port: int, requests: Sequence[bytes], seconds: float) -> tuple[float, list[float]]:
    """Requests/s and latencies of one keep-alive connection per entry of ``requests``, each
    sending its request again and again for ``seconds`` after one untimed warm-up."""
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in requests]
    try:
        calls = [
            functools.partial(exchange, reader, writer, request)
            for (reader, writer), request in zip(connections, requests, strict=True)
        ]
        await asyncio.gather(*(call() for call in calls))  # warm-up
        return await closed_loop(calls, seconds)
    finally:
        for _, writer in connections:
            writer.close()


def report(name: str, rate: float, latencies: list[float], cpu_seconds: float) -> None:
    """Print requests/s, p50/p99 and the server's CPU per request (and the rate one core
    could serve at that cost)."""
    p50, p99 = percentiles(latencies)
    per_request = cpu_seconds / len(latencies)
    print(
        f"{name:<34} {rate:>8,.0f} req/s   p50 {p50 * 1000:6.2f} ms   "
        f"p99 {p99 * 1000:6.2f} ms   server CPU {per_request * 1e6:5.0f} us/req "
        f"(= {1 / per_request:,.0f} req/s per core)"
    )
