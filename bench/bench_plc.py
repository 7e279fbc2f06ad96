"""did:plc operations validated per second, and ``POST /:did`` round trips per second.

Run: ``python bench/bench_plc.py [--postgres URL] [--posts N] [--concurrency C]``. The server
listens on a free loopback port and each POST creates a new DID (genesis op), so the per-DID
rate limit does not apply; every loop is bounded in count.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import throughput
from sonet.crypto import Keypair, generate_keypair
from sonet.identity.plc_log import LogEntry, apply_op, assure_valid_next_op
from sonet.identity.plc_ops import Operation, create_atproto_op, update_operation
from sonet.identity.plc_server import create_app
from sonet.identity.plc_validate import PlcLimits, assert_valid_incoming_op
from sonet.storage.database import Database, sqlite_url
from sonet.storage.plc_store import PlcStore, migrate_plc

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def genesis(rotation: Keypair) -> tuple[str, Operation]:
    return create_atproto_op(
        signing_key=rotation.did(),
        handle=f"{uuid.uuid4().hex[:12]}.test",
        pds_endpoint="https://pds.example.com",
        rotation_keys=[rotation.did()],
        signer=rotation,
    )


def check_new(did: str, op: Operation, limits: PlcLimits) -> None:
    """What ``POST /:did`` does to a genesis op before storing it."""
    assure_valid_next_op(did, [], assert_valid_incoming_op(op, limits), T0)


def check_update(did: str, log: list[LogEntry], op: Operation, limits: PlcLimits) -> None:
    """What ``POST /:did`` does to an update before storing it."""
    assure_valid_next_op(did, log, assert_valid_incoming_op(op, limits), T0 + timedelta(hours=1))


def bench_validation() -> None:
    limits = PlcLimits()
    for curve in ("k256", "p256"):
        rotation = generate_keypair(curve)
        did, op = genesis(rotation)
        log = apply_op(did, [], op, T0)
        update = update_operation(op, rotation, handle="next.test")
        new_rate = throughput(partial(check_new, did, op, limits))
        update_rate = throughput(partial(check_update, did, log, update, limits))
        print(f"{curve} genesis ops validated        {new_rate:>8,.0f} /s")
        print(f"{curve} update ops validated         {update_rate:>8,.0f} /s")


async def bench_posts(db: Database, posts: int, concurrency: int) -> None:
    await migrate_plc(db)
    runner = web.AppRunner(create_app(PlcStore(db)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    rotation = generate_keypair()
    ops = [genesis(rotation) for _ in range(posts)]
    queue = iter(ops)

    async def worker(session: aiohttp.ClientSession) -> None:
        for did, op in queue:
            async with session.post(f"{url}/{did}", json=op) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"POST failed: {resp.status} {await resp.text()}")

    try:
        async with aiohttp.ClientSession() as session:
            start = time.perf_counter()
            await asyncio.gather(*(worker(session) for _ in range(concurrency)))
            elapsed = time.perf_counter() - start
    finally:
        await runner.cleanup()
        await db.close()
    print(
        f"POST /:did round trips ({db.dialect}, {concurrency} clients) {posts / elapsed:>8,.0f} /s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", help="also run the POST benchmark on this PostgreSQL URL")
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    bench_validation()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(sqlite_url(Path(tmp) / "plc.sqlite"))
        await bench_posts(db, args.posts, args.concurrency)
    if args.postgres:
        import asyncpg

        schema = f"bench_plc_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(args.postgres)
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            db = Database.open(args.postgres, schema=schema)
            await bench_posts(db, args.posts, args.concurrency)
        finally:
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
