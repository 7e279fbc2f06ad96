"""XRPC throughput and latency over loopback, and token verifications per second.

Run: ``python bench/bench_xrpc.py [seconds]``. The server runs in a child process (one core) with
the production stack: CORS, JSON errors, a global per-IP rate limit (in memory), lexicon
parameter parsing and, for the authenticated case, HS256 access-token verification. The load
comes from this process through a minimal keep-alive HTTP/1.1 client (so the client costs
little), with 16 connections in flight. On a 2-core machine client and server share the CPU,
so the server's own CPU time per request is reported too, with the rate one core could serve.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from aiohttp import web

from sonet.crypto import K256Keypair, P256Keypair, PublicKey
from sonet.xrpc import (
    AccessCredentials,
    AuthVerifiers,
    HandlerContext,
    RateLimit,
    SessionTokens,
    XrpcRouter,
    create_service_jwt,
    verify_service_jwt,
)

SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
SERVICE_DID = "did:web:bench.sonet.test"
ALICE = "did:plc:alice234567abcdefghijklm"
CONNECTIONS = 16


async def describe_server(_ctx: HandlerContext[None]) -> dict[str, Any]:
    return {"did": SERVICE_DID, "availableUserDomains": [".sonet.test"]}


async def get_session(ctx: HandlerContext[AccessCredentials]) -> dict[str, Any]:
    return {"did": ctx.auth.did, "handle": "alice.sonet.test"}


def build_app() -> web.Application:
    tokens = SessionTokens(SECRET, SERVICE_DID)
    router = XrpcRouter(global_rate_limits=[RateLimit("global", 10**9, 300)])
    router.query("com.atproto.server.describeServer", describe_server)
    router.query(
        "com.atproto.server.getSession", get_session, auth=AuthVerifiers(tokens=tokens).access()
    )
    app = web.Application()
    router.install(app)
    return app


def serve(conn: Connection) -> None:
    """Run the server; answer every message on ``conn`` with this process's CPU seconds."""

    def report_cpu() -> None:
        while conn.recv():
            conn.send(time.process_time())

    async def main() -> None:
        runner = web.AppRunner(build_app(), access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        conn.send(sock.getsockname()[1])
        threading.Thread(target=report_cpu, daemon=True).start()
        await asyncio.Event().wait()

    asyncio.run(main())


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> None:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.decode(errors="replace"))
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)


async def load(port: int, request: bytes, seconds: float) -> tuple[float, list[float]]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await exchange(reader, writer, request)  # warm-up
        while (start := time.perf_counter()) < deadline:
            await exchange(reader, writer, request)
            latencies.append(time.perf_counter() - start)
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    return len(latencies) / (time.perf_counter() - start), latencies


def http_get(path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def report(name: str, rate: float, latencies: list[float], server_cpu: float) -> None:
    cuts = statistics.quantiles(latencies, n=100)
    per_request = server_cpu / len(latencies)
    print(
        f"{name:<34} {rate:>8,.0f} req/s   p50 {cuts[49] * 1000:6.2f} ms   "
        f"p99 {cuts[98] * 1000:6.2f} ms   server CPU {per_request * 1e6:5.0f} us/req "
        f"(= {1 / per_request:,.0f} req/s per core)"
    )


def rate(fn: Callable[[], object], seconds: float = 1.0) -> float:
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            fn()
        calls += 100
    return calls / elapsed


def bench_tokens() -> None:
    tokens = SessionTokens(SECRET, SERVICE_DID)
    access = tokens.create_access(ALICE)
    print(
        f"{'session access JWT verify (HS256)':<34} {rate(lambda: tokens.verify_access(access)):>8,.0f} /s"
    )
    for name, keypair in (("k256", K256Keypair.generate()), ("p256", P256Keypair.generate())):
        public = keypair.public_key()

        async def resolve(_iss: str, _force: bool, key: PublicKey = public) -> PublicKey:
            return key

        token = create_service_jwt(keypair, ALICE, SERVICE_DID, "app.bsky.feed.getTimeline")
        loop = asyncio.new_event_loop()

        def verify(token: str = token, loop: asyncio.AbstractEventLoop = loop) -> object:
            coro = verify_service_jwt(token, SERVICE_DID, "app.bsky.feed.getTimeline", resolve)
            return loop.run_until_complete(coro)

        print(f"{f'service JWT verify ({name})':<34} {rate(verify):>8,.0f} /s")
        loop.close()


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(child,), daemon=True)
    server.start()
    try:
        port = parent.recv()
        token = SessionTokens(SECRET, SERVICE_DID).create_access(ALICE)
        cases = [
            ("trivial query", http_get("/xrpc/com.atproto.server.describeServer")),
            (
                "query with access-token auth",
                http_get(
                    "/xrpc/com.atproto.server.getSession", {"Authorization": f"Bearer {token}"}
                ),
            ),
        ]
        for name, request in cases:
            parent.send(True)
            cpu_before = parent.recv()
            throughput, latencies = asyncio.run(load(port, request, seconds))
            parent.send(True)
            report(name, throughput, latencies, parent.recv() - cpu_before)
    finally:
        server.terminate()
        server.join()
    bench_tokens()


if __name__ == "__main__":
    main()
