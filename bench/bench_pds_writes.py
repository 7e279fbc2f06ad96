"""PDS writes and repo export over real HTTP: createRecord/s with p50/p99, and getRepo seconds.

Run: ``python bench/bench_pds_writes.py [seconds] [records]``. A PDS (SQLite in a temporary
folder unless ``SONET_DATABASE_URL`` is set; the repo and sync areas) runs in a child process on
loopback. The load comes from this process through a minimal keep-alive HTTP/1.1 client: one
request at a time, then 16 in flight on one repo and 16 in flight over 16 repos. On a 2-core
machine client and server share the CPU; the server's CPU time per request is reported too.
Then a repo of ``records`` (default 100,000) posts is imported and exported with getRepo.

Reference figures (the issue, same machine class): the TypeScript PDS does about 82/s
sequentially (p50 11 ms) and 100-107/s with 16 in flight (p99 200-240 ms); getRepo costs it
about 35 us per record.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import max_rss_mib, server_cpu, timings
from bench.loopback import load, report, start_loopback
from sonet.crypto import parse_did_key
from sonet.pds.app import build_pds_app, create_pds
from sonet.pds.config import PdsConfig
from sonet.pds.repo_import import RepoImporter
from sonet.repo import cbor
from sonet.repo.car import car_bytes
from sonet.repo.commit import sign_commit
from sonet.repo.mst import MST
from sonet.repo.repo_car import verify_repo_car
from sonet.syntax.tid import next_tid
from tests.pds.conftest import create_test_account

AREAS = ["sonet.pds.api.repo", "sonet.pds.api.sync"]
WRITERS = 16


def big_repo_car(did: str, key: Any, records: int) -> bytes:
    """A signed repo CAR of ``records`` posts (built directly, as another PDS would export)."""
    items, blocks = [], []
    for i in range(records):
        cid, block = cbor.encode_with_cid(
            {
                "$type": "app.bsky.feed.post",
                "text": f"post number {i}",
                "createdAt": "2026-11-22T00:00:00.000Z",
            }
        )
        items.append((f"app.bsky.feed.post/{next_tid()}", cid))
        blocks.append((cid, block))
    tree = MST.from_items(items)
    commit = sign_commit(did, tree.root_cid, next_tid(), key)
    commit_cid, commit_block = commit.to_block()
    return car_bytes(commit_cid, [(commit_cid, commit_block), *tree.new_blocks(), *blocks])


def serve(conn: Connection, data_dir: str) -> None:
    """Run the PDS; answer requests on ``conn``: ``"cpu"`` (CPU seconds so far), ``"rss"``
    (peak resident MiB), or a number of records (import such a repo; returns its DID)."""

    async def main() -> None:
        config = PdsConfig(
            data_dir=Path(data_dir),
            jwt_secret="bench-secret-0123456789abcdef0123456789abcdef",
            database_url=os.environ.get("SONET_DATABASE_URL"),
        )
        ctx = await create_pds(config, areas=AREAS)
        port = await start_loopback(build_pds_app(ctx))
        accounts = [await create_test_account(ctx, f"user{i}.test") for i in range(WRITERS)]
        tokens = [ctx.tokens.create_access(did) for did, _ in accounts]
        conn.send((port, [did for did, _ in accounts], tokens))
        loop = asyncio.get_running_loop()

        async def import_big(records: int) -> tuple[str, str, float, float]:
            did, key = await create_test_account(ctx, "big.test")
            start = time.perf_counter()
            car = big_repo_car(did, key, records)
            built = time.perf_counter() - start
            start = time.perf_counter()
            await RepoImporter(ctx).import_car(did, car)
            return did, key.public_key().did(), built, time.perf_counter() - start

        def requests() -> None:
            while (msg := conn.recv()) is not None:
                if msg == "cpu":
                    conn.send(time.process_time())
                elif msg == "rss":
                    conn.send(max_rss_mib())
                else:
                    future = asyncio.run_coroutine_threadsafe(import_big(int(msg)), loop)
                    conn.send(future.result())

        threading.Thread(target=requests, daemon=True).start()
        await asyncio.Event().wait()

    asyncio.run(main())


def create_request(did: str, token: str) -> bytes:
    body = orjson.dumps(
        {
            "repo": did,
            "collection": "app.bsky.feed.post",
            "record": {
                "$type": "app.bsky.feed.post",
                "text": "hello from the benchmark",
                "createdAt": "2026-11-22T00:00:00.000Z",
            },
        }
    )
    head = (
        "POST /xrpc/com.atproto.repo.createRecord HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def fetch_repo(port: int, did: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
    writer.write(
        f"GET /xrpc/com.atproto.sync.getRepo?did={did} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.decode(errors="replace"))
    chunks = []
    while True:  # chunked transfer encoding
        size = int((await reader.readline()).strip(), 16)
        if size == 0:
            break
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
    writer.close()
    return b"".join(chunks)


@contextmanager
def running_pds() -> Iterator[tuple[Connection, int, list[str], list[str]]]:
    """A PDS of :func:`serve` in a child process with a temporary data folder: the connection
    to it, its port, and the DIDs and access tokens of its ``WRITERS`` accounts."""
    parent, child = multiprocessing.Pipe()
    with tempfile.TemporaryDirectory() as data_dir:
        server = multiprocessing.Process(target=serve, args=(child, data_dir), daemon=True)
        server.start()
        try:
            port, dids, tokens = parent.recv()
            yield parent, port, dids, tokens
        finally:
            parent.send(None)
            server.terminate()
            server.join()


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    records = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    with running_pds() as (parent, port, dids, tokens):
        same = create_request(dids[0], tokens[0])
        cases = [
            ("createRecord, 1 in flight", [same]),
            (f"createRecord, {WRITERS} in flight, 1 repo", [same] * WRITERS),
            (
                f"createRecord, {WRITERS} in flight, {WRITERS} repos",
                [create_request(d, t) for d, t in zip(dids, tokens, strict=True)],
            ),
        ]
        for name, requests in cases:
            run = functools.partial(asyncio.run, load(port, requests, seconds))
            (rate, latencies), cpu = server_cpu(parent, run, ask="cpu")
            report(name, rate, latencies, cpu)

        parent.send(str(records))
        did, key_did, built, imported = parent.recv()
        print(f"repo of {records:,} records: built {built:.2f} s, importRepo {imported:.2f} s")
        times, car = timings(lambda: asyncio.run(fetch_repo(port, did)), runs=3)
        repo = verify_repo_car(car, did=did, key=parse_did_key(key_did))
        assert len(repo.records) == records
        median = statistics.median(times)
        print(
            f"getRepo of {records:,} records: median {median:.3f} s of 3 "
            f"({len(car) / 2**20:.1f} MiB, {median / records * 1e6:.1f} us/record; verified)"
        )


if __name__ == "__main__":
    main()
