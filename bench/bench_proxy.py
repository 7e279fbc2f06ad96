"""The PDS's AppView proxy: proxied ``getTimeline`` requests/s and the latency it adds.

Run: ``python bench/bench_proxy.py [seconds]``. A fake AppView (the one the proxy tests use: it
verifies every service JWT and answers a 50-item timeline, about 60 kB) and a PDS with only the
proxy area run in two child processes on loopback; this process sends keep-alive HTTP/1.1
requests, first straight to the AppView (with a service JWT minted here), then through the PDS
(with a session token, so the PDS verifies it, signs a fresh service JWT per call and streams the
answer back). Both are measured with 1 and with 16 connections; the PDS's own CPU time per
request is reported. The machine has 2 cores shared by the three processes.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import percentiles, server_cpu
from bench.loopback import answer_cpu, http_get, load, start_loopback
from sonet.crypto import Keypair, generate_keypair, import_private_multibase, parse_did_key
from sonet.pds.app import build_pds_app, create_pds
from sonet.pds.config import PdsConfig
from sonet.xrpc.service_jwt import create_service_jwt
from tests.pds.test_proxy_fakes import FakeAppView
from tests.pds.test_sync_support import add_account

ACCOUNT = "did:plc:bench234567abcdefghijklmn"
TIMELINE = "/xrpc/app.bsky.feed.getTimeline?limit=50"
TIMELINE_NSID = "app.bsky.feed.getTimeline"

AppFactory = Callable[[Connection], Awaitable[tuple[web.Application, Any]]]


def serve(conn: Connection, make_app: AppFactory) -> None:
    """Run the app ``make_app`` builds on a free loopback port; send ``(port, extra)``, then
    answer every message on ``conn`` with this process's CPU seconds."""

    async def main() -> None:
        app, extra = await make_app(conn)
        port = await start_loopback(app)
        if isinstance(extra, FakeAppView):
            extra.port = port
            extra = extra.did
        conn.send((port, extra))
        answer_cpu(conn)
        await asyncio.Event().wait()

    asyncio.run(main())


async def fake_appview(conn: Connection) -> tuple[web.Application, Any]:
    public_did_key: str = conn.recv()
    fake = FakeAppView(keys={ACCOUNT: parse_did_key(public_did_key)}, timeline_items=50)
    return fake.app(), fake


async def proxy_pds(conn: Connection) -> tuple[web.Application, Any]:
    appview_url, appview_did, private_key, data_dir = conn.recv()
    config = PdsConfig(
        data_dir=Path(data_dir),
        jwt_secret="bench-secret-0123456789abcdef0123456789abcdef",
        appview_url=appview_url,
        appview_did=appview_did,
    )
    ctx = await create_pds(config, areas=["sonet.pds.proxy"])
    key = import_private_multibase(private_key)
    await add_account(ctx, ACCOUNT, "bench.test", key)
    return build_pds_app(ctx), ctx.tokens.create_access(ACCOUNT)


def start(make_app: AppFactory, *setup: Any) -> tuple[multiprocessing.Process, Connection]:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=serve, args=(child, make_app), daemon=True)
    process.start()
    for message in setup:
        parent.send(message)
    return process, parent


def measure(
    name: str, port: int, request: bytes, seconds: float, connections: int, cpu: Connection
) -> tuple[float, float, float]:
    run = functools.partial(asyncio.run, load(port, [request] * connections, seconds))
    (rate, latencies), cpu_seconds = server_cpu(cpu, run)
    per_request = cpu_seconds / len(latencies)
    p50, p99 = (q * 1000 for q in percentiles(latencies))
    print(
        f"{name:<38} {rate:>7,.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   "
        f"server CPU {per_request * 1e6:5.0f} us/req"
    )
    return rate, p50, p99


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    account_key: Keypair = generate_keypair()
    with tempfile.TemporaryDirectory() as data_dir:
        appview, appview_conn = start(fake_appview, account_key.public_key().did())
        appview_port, appview_did = appview_conn.recv()
        appview_url = f"http://127.0.0.1:{appview_port}"
        setup = (appview_url, appview_did, account_key.export_private_multibase(), data_dir)
        pds, pds_conn = start(proxy_pds, setup)
        try:
            pds_port, access_token = pds_conn.recv()
            jwt = create_service_jwt(
                account_key, ACCOUNT, appview_did, TIMELINE_NSID, exp=time.time() + 3600
            )
            direct = http_get(TIMELINE, {"Authorization": f"Bearer {jwt}"})
            proxied = http_get(TIMELINE, {"Authorization": f"Bearer {access_token}"})
            for connections in (1, 16):
                label = f"{connections} connection{'s' if connections > 1 else ''}"
                d_rate, d50, d99 = measure(
                    f"direct to AppView, {label}",
                    appview_port,
                    direct,
                    seconds,
                    connections,
                    appview_conn,
                )
                p_rate, p50, p99 = measure(
                    f"proxied through PDS, {label}",
                    pds_port,
                    proxied,
                    seconds,
                    connections,
                    pds_conn,
                )
                print(
                    f"{'  added by the proxy':<38} p50 {p50 - d50:+.2f} ms   p99 {p99 - d99:+.2f} ms"
                    f"   throughput {p_rate / d_rate:.0%} of direct"
                )
        finally:
            for process in (pds, appview):
                process.terminate()
                process.join()


if __name__ == "__main__":
    main()
