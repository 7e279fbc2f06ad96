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
import secrets
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import closed_loop, max_rss_mib, percentiles
from bench.loopback import start_loopback
from sonet.pds.app import build_pds_app, create_pds
from sonet.pds.config import PdsConfig
from sonet.pds.repo_writes import WriteRequest
from sonet.repo.cid import parse_cid
from tests.pds.conftest import create_test_account

AREA = "sonet.pds.api.blobs"
BLOB_BYTES = 1_000_000  # the avatar lexicon maximum
BIG_BYTES = 50 * 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"  # sniffed as image/png: a valid avatar


def serve(conn: Connection, data_dir: str) -> None:
    """Run a PDS; send (port, did, access token); answer each message with the peak RSS (MiB)."""

    async def main() -> None:
        config = PdsConfig(data_dir=Path(data_dir), jwt_secret="bench-secret-" + "0" * 32)
        ctx = await create_pds(config, areas=[AREA])
        did, _key = await create_test_account(ctx, "bench.test")

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
        port = await start_loopback(app)
        conn.send((port, did, ctx.tokens.create_access(did)))
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, conn.recv):
            conn.send(max_rss_mib())

    asyncio.run(main())


def report(name: str, rate: float, latencies: list[float]) -> None:
    p50, p99 = percentiles(latencies)
    print(
        f"{name:<38} {rate:7.1f} req/s  {rate * BLOB_BYTES / 1e6:7.1f} MB/s  "
        f"p50 {p50 * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms"
    )


async def uploads(
    session: aiohttp.ClientSession, url: str, token: str, seconds: float, connections: int
) -> dict[str, object]:
    ref: dict[str, object] = {}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}
    body = os.urandom(BLOB_BYTES - len(PNG_SIGNATURE) - 16)

    async def upload() -> None:
        data = PNG_SIGNATURE + secrets.token_bytes(16) + body  # distinct, cheap to make
        async with session.post(
            f"{url}/xrpc/com.atproto.repo.uploadBlob", data=data, headers=headers
        ) as resp:
            assert resp.status == 200, await resp.text()
            ref.update((await resp.json())["blob"])

    rate, latencies = await closed_loop([upload] * connections, seconds)
    report(f"uploadBlob 1 MB x{connections} conns", rate, latencies)
    return ref


async def downloads(
    session: aiohttp.ClientSession,
    url: str,
    params: dict[str, str],
    seconds: float,
    connections: int,
) -> None:
    async def download() -> None:
        async with session.get(f"{url}/xrpc/com.atproto.sync.getBlob", params=params) as resp:
            assert resp.status == 200
            assert len(await resp.read()) == BLOB_BYTES

    rate, latencies = await closed_loop([download] * connections, seconds)
    report(f"getBlob 1 MB x{connections} conns", rate, latencies)


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
