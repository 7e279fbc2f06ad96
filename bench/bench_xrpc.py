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
import functools
import multiprocessing
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import server_cpu, throughput
from bench.loopback import answer_cpu, http_get, load, report, start_loopback
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

    async def main() -> None:
        conn.send(await start_loopback(build_app()))
        answer_cpu(conn)
        await asyncio.Event().wait()

    asyncio.run(main())


def bench_tokens() -> None:
    tokens = SessionTokens(SECRET, SERVICE_DID)
    access = tokens.create_access(ALICE)
    print(
        f"{'session access JWT verify (HS256)':<34} {throughput(lambda: tokens.verify_access(access), repeat=1):>8,.0f} /s"
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

        print(f"{f'service JWT verify ({name})':<34} {throughput(verify, repeat=1):>8,.0f} /s")
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
            run = functools.partial(asyncio.run, load(port, [request] * CONNECTIONS, seconds))
            (rate, latencies), cpu = server_cpu(parent, run)
            report(name, rate, latencies, cpu)
    finally:
        server.terminate()
        server.join()
    bench_tokens()


if __name__ == "__main__":
    main()
