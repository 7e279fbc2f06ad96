"""Blob upload throughput and getBlob latency for 1 MB blobs over loopback HTTP.

Run: ``python bench/bench_blobs.py [seconds]``. A PDS with the blobs area (SQLite, blobs on disk
in a temporary directory, uploads fsynced) runs in a child process; this process uploads 1 MB
blobs through ``com.atproto.repo.uploadBlob`` (4 connections) and reads one referenced 1 MB
blob through ``com.atproto.sync.getBlob`` (1 and 8 connections). On a 2-core machine client and
server share the CPU. Also reports a 50 MB upload's time and the server's peak RSS after it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp
from aiohttp import web

from sonet.crypto import generate_keypair
from sonet.pds.accounts.directory import AccountDirectory
from sonet.pds.app import build_pds_app, create_pds
from sonet.pds.config import PdsConfig
from sonet.pds.repo_writes import WriteRequest
from sonet.repo.cid import parse_cid

AREA = "sonet.pds.api.blobs"
BLOB_BYTES = 1_000_000  # the avatar lexicon maximum
BIG_BYTES = 50 * 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"  # sniffed as image/png: a valid avatar


def serve(conn: Connection, data_dir: str) -> None:
    """Run a PDS; send (port, did, access token); answer each message with the peak RSS (MiB)."""

    async def main() -> None:
        config = PdsConfig(data_dir=Path(data_dir), jwt_secret="bench-secret-" + "0" * 32)
        ctx = await create_pds(config, areas=[AREA])
        key = generate_keypair()
        did = "did:plc:" + "".join(
            secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(24)
        )
        async with ctx.sequencer.transaction() as tx:
            await ctx.accounts.store.insert(
                tx.conn, AccountDirectory.new_row(did, "bench.test", key)
            )
            await ctx.repos.create_repo(tx, did, key)

        async def reference(request: web.Request) -> web.Response:
            ref = await request.json()
            record = {
                "$type": "app.bsky.actor.profile",
                "avatar": {**ref, "ref": parse_cid(ref["ref"]["$link"])},
            }
            await ctx.repos.apply_writes(
                did, [WriteRequest("create", "app.bsky.actor.profile", "self", record)]
            )
            return web.Response()

        app = build_pds_app(ctx)
        app.router.add_post("/bench/reference", reference)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        conn.send((runner.addresses[0][1], did, ctx.tokens.create_access(did)))
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, conn.recv):
            conn.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    asyncio.run(main())


def report(name: str, latencies: list[float], elapsed: float, nbytes: int) -> None:
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    print(
        f"{name:<38} {len(latencies) / elapsed:7.1f} req/s  {nbytes / elapsed / 1e6:7.1f} MB/s  "
        f"p50 {cuts[49] * 1000:7.2f} ms  p99 {cuts[98] * 1000:7.2f} ms"
    )


async def uploads(
    session: aiohttp.ClientSession, url: str, token: str, seconds: float, connections: int
) -> dict[str, object]:
    latencies: list[float] = []
    ref: dict[str, object] = {}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}
    deadline = time.perf_counter() + seconds
    body = os.urandom(BLOB_BYTES - len(PNG_SIGNATURE) - 16)

    async def worker() -> None:
        while (start := time.perf_counter()) < deadline:
            data = PNG_SIGNATURE + secrets.token_bytes(16) + body  # distinct, cheap to make
            async with session.post(
                f"{url}/xrpc/com.atproto.repo.uploadBlob", data=data, headers=headers
            ) as resp:
                assert resp.status == 200, await resp.text()
                ref.update((await resp.json())["blob"])
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    report(
        f"uploadBlob 1 MB x{connections} conns",
        latencies,
        time.perf_counter() - start,
        len(latencies) * BLOB_BYTES,
    )
    return ref


async def downloads(
    session: aiohttp.ClientSession,
    url: str,
    params: dict[str, str],
    seconds: float,
    connections: int,
) -> None:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while (start := time.perf_counter()) < deadline:
            async with session.get(f"{url}/xrpc/com.atproto.sync.getBlob", params=params) as resp:
                assert resp.status == 200
                assert len(await resp.read()) == BLOB_BYTES
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    report(
        f"getBlob 1 MB x{connections} conns",
        latencies,
        time.perf_counter() - start,
        len(latencies) * BLOB_BYTES,
    )


async def run(port: int, did: str, token: str, seconds: float, parent: Connection) -> None:
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16)) as session:
        ref = await uploads(session, url, token, seconds, 4)
        async with session.post(f"{url}/bench/reference", json=ref) as resp:
            assert resp.status == 200, await resp.text()
        params = {"did": did, "cid": str(ref["ref"]["$link"])}  # type: ignore[index]
        for connections in (1, 8):
            await downloads(session, url, params, seconds, connections)
        big = os.urandom(BIG_BYTES)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "video/mp4"}
        start = time.perf_counter()
        async with session.post(
            f"{url}/xrpc/com.atproto.repo.uploadBlob", data=big, headers=headers
        ) as resp:
            assert resp.status == 200, await resp.text()
        elapsed = time.perf_counter() - start
        parent.send(True)
        rss = parent.recv()
        print(
            f"uploadBlob 50 MB                       {elapsed * 1000:7.0f} ms  "
            f"{BIG_BYTES / elapsed / 1e6:7.1f} MB/s  server peak RSS {rss:,.0f} MiB"
        )


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    with tempfile.TemporaryDirectory() as data_dir:
        parent, child = multiprocessing.Pipe()
        server = multiprocessing.Process(target=serve, args=(child, data_dir), daemon=True)
        server.start()
        try:
            port, did, token = parent.recv()
            asyncio.run(run(port, did, token, seconds, parent))
            parent.send(False)
        finally:
            server.terminate()
            server.join()


if __name__ == "__main__":
    main()
