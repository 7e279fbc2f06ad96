"""PDS logins and access-token checks: createSession/s and verifications/s.

Run: ``python bench/bench_pds_auth.py [seconds]``. A real PDS (SQLite in a temporary folder,
the server and admin areas) and a Sonet PLC directory serve on loopback in this process; the
load comes from the same event loop with several requests in flight, so client and server share
one core. Logins are bound by the Argon2id KDF (19 MiB, 2 passes); the reference's 350 ms
minimum login time is measured separately, since it caps a client's rate, not the server's.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import closed_loop, measure, percentiles
from sonet.pds.accounts.auth import AccountAuth
from sonet.pds.accounts.passwords import hash_password
from sonet.pds.accounts.service import LOGIN_FLOOR_SECONDS, account_service
from sonet.pds.app import build_pds_app, create_pds
from sonet.pds.config import PdsConfig
from sonet.xrpc.context import HandlerContext
from tests.pds.test_sync_support import plc_directory

AREAS = ["sonet.pds.api.server", "sonet.pds.api.admin"]
PASSWORD = "bench-password-123"
ACCOUNTS = 40


async def run_load(
    name: str, call: Callable[[], Awaitable[Any]], seconds: float, in_flight: int
) -> None:
    """Run ``call`` from ``in_flight`` workers for ``seconds``; print the rate and latencies."""
    rate, latencies = await closed_loop([call] * in_flight, seconds)
    p50, p99 = percentiles(latencies)
    print(
        f"{name}: {rate:,.0f} ops/s  p50 {p50 * 1e3:,.1f} ms"
        f"  p99 {p99 * 1e3:,.1f} ms  ({in_flight} in flight)"
    )


async def main(seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        async with plc_directory(folder) as plc_url:
            await bench_pds(folder, plc_url, seconds)


async def bench_pds(folder: Path, plc_url: str, seconds: float) -> None:
    """Time a PDS in ``folder`` whose accounts register with the PLC directory at ``plc_url``."""
    config = PdsConfig(
        data_dir=folder / "pds", admin_password="bench", jwt_secret="x" * 32, plc_url=plc_url
    )
    ctx = await create_pds(config, areas=AREAS)
    client: TestClient[Any, Any] = TestClient(TestServer(build_pds_app(ctx)))
    await client.start_server()
    service = account_service(ctx)
    try:
        access = ""
        for i in range(ACCOUNTS):
            body = {
                "handle": f"b{i:03d}.test",
                "email": f"b{i}@example.com",
                "password": PASSWORD,
            }
            resp = await client.post("/xrpc/com.atproto.server.createAccount", json=body)
            created = await resp.json()
            assert resp.status == 200, created
            access = created["accessJwt"]

        async def hash_one() -> None:
            await hash_password(PASSWORD)

        await run_load("argon2id hash (account password)", hash_one, seconds, 2)

        # logins cycle through the accounts: each identifier may log in 30 times per 5 min
        turn = itertools.cycle(range(ACCOUNTS))

        async def create_session() -> None:
            login = {"identifier": f"b{next(turn):03d}.test", "password": PASSWORD}
            async with client.post("/xrpc/com.atproto.server.createSession", json=login) as r:
                assert r.status == 200, await r.text()

        service.login_floor = 0.0
        await run_load("createSession (KDF-bound, no floor)", create_session, seconds, 4)
        service.login_floor = LOGIN_FLOOR_SECONDS
        await run_load("createSession (350 ms floor)", create_session, seconds, 16)

        measure(
            "access-token verification (HS256, hmac)",
            lambda: ctx.tokens.verify_access(access),
            seconds=seconds,
        )
        verifier = AccountAuth(ctx.auth, ctx.accounts).access(check_takedown=True)
        request = make_mocked_request(
            "GET", "/xrpc/x", headers={"Authorization": f"Bearer {access}"}
        )

        async def verify_with_status() -> None:
            await verifier(HandlerContext("com.atproto.server.getSession", request))

        await run_load("access token + account status (DB read)", verify_with_status, seconds, 16)
        headers = {"Authorization": f"Bearer {access}"}

        async def get_session() -> None:
            async with client.get("/xrpc/com.atproto.server.getSession", headers=headers) as r:
                assert r.status == 200
                await r.read()

        await run_load("getSession over loopback", get_session, seconds, 16)
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0))
