"""AppView reads under load: getTimeline and searchPosts latency with 50 concurrent clients.

Run: ``python bench/bench_appview_reads.py [--users N] [--posts N] [--follows N] [--clients N]
[--requests N] [--threshold N] [--database-url URL]``. A synthetic network is indexed first
(not timed) through the ingestion indexer: follows drawn from a Zipf distribution over users
(a few accounts followed by 10%+ of everyone; those above the fan-out threshold are pulled at
read time, the rest pushed into followers' timelines), then posts with words and hashtags, a
fifth of them replies. The AppView then runs in its own process on a loopback port (or in
``--workers`` processes sharing it), and ``--clients`` concurrent clients, each with its own
viewer and a real service JWT (``did:key`` issuers, so no directory is involved), call
getTimeline (first page, then the next page with the cursor, 30% of the time) and searchPosts
(one or two random words, sort latest), after a warm-up pass over every viewer: first paced
(``--rate`` calls per second per client, latency counted from the scheduled time), then back
to back (saturation). Reported: p50, p99 and max latency and requests/s per method, the
AppView's CPU time per call and the machine's load average.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gc
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from itertools import accumulate, count
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import orjson

from sonet.appview.ingest.actors import set_handle
from sonet.appview.ingest.context import IndexConfig
from sonet.appview.ingest.events import CommitItem, RecordWrite
from sonet.appview.ingest.indexer import Indexer
from sonet.appview.schema import migrate_appview
from sonet.appview.search.index import SearchIndex
from sonet.appview.search.updater import SearchUpdater
from sonet.crypto import Keypair, import_private_hex
from sonet.repo import cbor
from sonet.storage.database import Database, sqlite_url
from sonet.syntax.tid import tid_from
from sonet.xrpc.service_jwt import create_service_jwt

APPVIEW_DID = "did:web:localhost%3A0"
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "atproto",
    "sonet",
    "bluesky",
    "timeline",
    "thread",
    "search",
    "index",
    "python",
    "garden",
    "coffee",
    "music",
    "river",
    "mountain",
    "city",
    "night",
    "morning",
    "sunset",
    "ocean",
    "forest",
    "book",
    "movie",
    "game",
    "code",
    "data",
    "cloud",
    "rain",
    "snow",
    "summer",
    "winter",
    "spring",
    "autumn",
    "friend",
    "family",
]
TAGS = ["news", "art", "python", "music", "photo", "cats", "dogs", "food", "travel", "sport"]
BATCH = 2000
_tids = count(1_700_000_000_000_000)


def _tid() -> str:
    return tid_from(next(_tids), 0)


def _write(did: str, collection: str, value: dict[str, Any], rkey: str) -> RecordWrite:
    cid, data = cbor.encode_with_cid(value)
    return RecordWrite("create", did, collection, rkey, cid.encode(), data, value)


def _time(i: int, total: int) -> str:
    """Record times spread over the last 30 days, in order."""
    start = time.time() - 30 * 86400
    t = start + (30 * 86400 - 60) * i / max(1, total)
    ms = int((t - int(t)) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{ms:03d}Z"


class Network:
    """The synthetic accounts and the events that build them."""

    def __init__(self, users: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.keys: list[Keypair] = [
            import_private_hex(f"{self.rng.getrandbits(255) | 1:064x}") for _ in range(users)
        ]
        self.dids = [k.did() for k in self.keys]

    def follows(self, total: int) -> list[tuple[int, int]]:
        """``total`` distinct (follower, followee) pairs, followees Zipf-distributed."""
        n = len(self.dids)
        weights = list(accumulate(1.0 / (rank + 1) for rank in range(n)))
        popular = list(range(n))
        self.rng.shuffle(popular)
        pairs: set[tuple[int, int]] = set()
        while len(pairs) < min(total, n * (n - 1) // 2):
            follower = self.rng.randrange(n)
            followee = popular[bisect.bisect(weights, self.rng.random() * weights[-1])]
            if follower != followee:
                pairs.add((follower, followee))
        return list(pairs)

    def text(self) -> tuple[str, list[str]]:
        words = self.rng.choices(WORDS, k=self.rng.randint(4, 14))
        tags = self.rng.sample(TAGS, k=self.rng.choice((0, 0, 0, 1, 2)))
        return " ".join(words + [f"#{t}" for t in tags]), tags


async def build(db: Database, search_dir: Path, args: argparse.Namespace) -> Network:
    """Index the synthetic network into ``db`` and a search index."""
    await migrate_appview(db)
    net = Network(args.users)
    search = SearchIndex(search_dir, commit_interval=5.0)
    indexer = Indexer(
        db, IndexConfig(fanout_threshold=args.threshold), search=SearchUpdater(db, search)
    )
    started = time.perf_counter()
    for i, did in enumerate(net.dids):
        await indexer.run(set_handle(did, f"user{i}.bench.test", _time(0, 1)))
    events: list[CommitItem] = []

    async def flush() -> None:
        await indexer.apply(events)
        events.clear()

    follows = net.follows(args.follows)
    for n, (a, b) in enumerate(follows):
        rec = _write(
            net.dids[a],
            "app.bsky.graph.follow",
            {"$type": "app.bsky.graph.follow", "subject": net.dids[b], "createdAt": _time(0, 1)},
            _tid(),
        )
        events.append(CommitItem(None, net.dids[a], _tid(), "bafycommit", _time(0, 1), [rec]))
        if len(events) >= BATCH:
            await flush()
        if n % 50_000 == 0:
            print(f"  follows {n:,}/{len(follows):,}", flush=True)
    await flush()
    recent: list[tuple[str, str]] = []
    for i in range(args.posts):
        author = net.rng.randrange(len(net.dids))
        did = net.dids[author]
        text, tags = net.text()
        value: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": _time(i, args.posts),
            "langs": ["en"],
        }
        if tags:
            value["tags"] = tags
        if recent and net.rng.random() < 0.2:
            uri, cid = net.rng.choice(recent)
            value["reply"] = {"root": {"uri": uri, "cid": cid}, "parent": {"uri": uri, "cid": cid}}
        rec = _write(did, "app.bsky.feed.post", value, _tid())
        if "reply" not in value:
            recent.append((rec.uri, rec.cid))
            recent = recent[-500:]
        events.append(CommitItem(None, did, _tid(), "bafycommit", value["createdAt"], [rec]))
        if len(events) >= BATCH:
            await flush()
        if i % 50_000 == 0:
            print(f"  posts {i:,}/{args.posts:,}", flush=True)
    await flush()
    await search.close()
    elapsed = time.perf_counter() - started
    print(
        f"indexed {args.users:,} users, {len(follows):,} follows, {args.posts:,} posts "
        f"in {elapsed:,.0f} s"
    )
    return net


def _serve(database: str, data_dir: str, threshold: int, workers: int, port_queue: Any) -> None:
    """The AppView in its own process(es), as ``sonet appview`` runs it (without ingest)."""
    from sonet.appview.app import serve_appview
    from sonet.appview.config import AppviewConfig

    config = AppviewConfig(
        hostname="127.0.0.1",
        port=0,
        data_dir=Path(data_dir),
        database_url=database,
        service_did=APPVIEW_DID,
        fanout_threshold=threshold,
        ingest=False,
        firehose_url=None,
        workers=workers,
    )
    asyncio.run(serve_appview(config, ready=port_queue.put))


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` and its children (the read workers), from
    ``/proc`` (0 where it is not available)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for p in [str(pid), *children]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _report(name: str, samples: list[float], wall: float, cpu: float) -> float:
    qs = statistics.quantiles(samples, n=100)
    print(
        f"{name}: {len(samples) / wall:,.0f} req/s  p50 {qs[49] * 1e3:,.1f} ms  "
        f"p99 {qs[98] * 1e3:,.1f} ms  max {max(samples) * 1e3:,.1f} ms  ({len(samples):,} calls; "
        f"AppView CPU {cpu / len(samples) * 1e3:.2f} ms per call, load average "
        f"{os.getloadavg()[0]:.2f})"
    )
    return qs[98]


Call = Callable[[aiohttp.ClientSession, int], Awaitable[None]]


async def load(base: str, clients: int, requests: int, call: Call, rate: float) -> list[float]:
    """``clients`` concurrent clients each making ``requests`` calls, back to back (``rate``
    0) or ``rate`` calls per second each (latency counted from the scheduled start, so a
    server falling behind shows in it); returns the latencies."""
    samples: list[float] = []
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(base, connector=connector) as session:

        async def client(c: int) -> None:
            start = time.perf_counter() + (random.random() / rate if rate > 0 else 0)
            for k in range(requests):
                due = start + k / rate if rate > 0 else time.perf_counter()
                if rate > 0:
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                await call(session, c)
                samples.append(time.perf_counter() - due)

        await asyncio.gather(*(client(c) for c in range(clients)))
    return samples


class Clients:
    """What the simulated clients call: each has a viewer with a service JWT; a timeline
    client asks for the next page (with the cursor) 30% of the time."""

    def __init__(self, net: Network, clients: int) -> None:
        rng = random.Random(11)
        self.rng = rng
        self.viewers = rng.sample(range(len(net.dids)), k=min(clients * 4, len(net.dids)))
        exp = time.time() + 3600
        self.tokens = {
            (i, nsid): create_service_jwt(net.keys[i], net.dids[i], APPVIEW_DID, nsid, exp=exp)
            for i in self.viewers
            for nsid in ("app.bsky.feed.getTimeline", "app.bsky.feed.searchPosts")
        }
        self.cursors: dict[int, tuple[int, str]] = {}

    def _auth(self, viewer: int, nsid: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[(viewer, nsid)]}"}

    async def timeline(self, session: aiohttp.ClientSession, c: int) -> None:
        previous = self.cursors.pop(c, None)
        if previous is not None and self.rng.random() < 0.3:
            viewer, cursor = previous
            params = {"limit": "50", "cursor": cursor}
        else:
            viewer = self.rng.choice(self.viewers)
            params = {"limit": "50"}
        headers = self._auth(viewer, "app.bsky.feed.getTimeline")
        async with session.get(
            "/xrpc/app.bsky.feed.getTimeline", params=params, headers=headers
        ) as resp:
            body = orjson.loads(await resp.read())
            assert resp.status == 200, body
        if body.get("cursor"):
            self.cursors[c] = (viewer, body["cursor"])

    async def search(self, session: aiohttp.ClientSession, c: int) -> None:
        q = " ".join(self.rng.sample(WORDS, k=self.rng.choice((1, 2))))
        headers = self._auth(self.rng.choice(self.viewers), "app.bsky.feed.searchPosts")
        async with session.get(
            "/xrpc/app.bsky.feed.searchPosts", params={"q": q, "limit": "25"}, headers=headers
        ) as resp:
            body = await resp.read()
            assert resp.status == 200, body

    async def warm_up(self, base: str) -> None:
        """Every viewer's timeline once and a few searches (the server's caches, and the
        database pages in memory), not measured."""
        async with aiohttp.ClientSession(base) as session:
            for c in range(len(self.viewers)):
                await self.timeline(session, c)
                if c % 4 == 0:
                    await self.search(session, c)
        self.cursors.clear()


async def run_load(base: str, net: Network, args: argparse.Namespace, pid: int) -> None:
    clients = Clients(net, args.clients)
    await clients.warm_up(base)
    results: dict[str, float] = {}
    for rate, mode in ((args.rate, f"{args.rate:g}/s per client"), (0.0, "back to back")):
        print(f"{args.clients} clients, {args.requests} calls each, {mode}:")
        for name, call in (("getTimeline", clients.timeline), ("searchPosts", clients.search)):
            started, cpu = time.perf_counter(), server_cpu(pid)
            samples = await load(base, args.clients, args.requests, call, rate)
            wall, cpu = time.perf_counter() - started, server_cpu(pid) - cpu
            results[f"{name} {rate}"] = _report(f"  {name}", samples, wall, cpu)
    paced_tl, paced_search = (
        results[f"getTimeline {args.rate}"],
        results[f"searchPosts {args.rate}"],
    )
    print(
        f"goals at {args.rate:g}/s per client: getTimeline p99 < 50 ms "
        f"{'met' if paced_tl < 0.05 else 'NOT met'}; searchPosts p99 < 30 ms "
        f"{'met' if paced_search < 0.03 else 'NOT met'}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--follows", type=int, default=100_000)
    parser.add_argument("--threshold", type=int, default=200)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--rate", type=float, default=1.0, help="calls/s per client (paced)")
    parser.add_argument("--workers", type=int, default=1, help="AppView processes sharing the port")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--data-dir", default=None, help="keep the index here and reuse it on later runs"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sonet-appview-bench-") as tmp:
        data_dir = Path(args.data_dir or tmp)
        url = args.database_url or sqlite_url(data_dir / "appview.sqlite")
        if args.data_dir and (data_dir / "search").exists():
            net = Network(args.users)  # the same accounts (keys come from the seed)
            print(f"reusing the network indexed in {data_dir}")
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            db = Database.open(url)
            net = await build(db, data_dir / "search", args)
            await db.close()
        gc.collect()  # drops the build's search writers (the server opens its own)
        ctx = multiprocessing.get_context("spawn")
        ports = ctx.Queue()
        server = ctx.Process(
            target=_serve, args=(url, str(data_dir), args.threshold, args.workers, ports)
        )
        server.start()
        try:
            port = ports.get(timeout=60)
            assert server.pid is not None
            await run_load(f"http://127.0.0.1:{port}", net, args, server.pid)
        finally:
            server.terminate()
            server.join(10)


if __name__ == "__main__":
    asyncio.run(main())
