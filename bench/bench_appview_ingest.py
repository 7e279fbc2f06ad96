"""AppView ingest: firehose frames decoded, checked and indexed per second.

Run: ``python bench/bench_appview_ingest.py [--users N] [--posts N] [--follows N] ...``. A
synthetic network is generated first (not timed): ``#commit`` frames as a relay sends them
(record blocks in a CAR slice), with follows drawn from a Zipf distribution over users (a few
accounts followed by 10%+ of everyone), then posts (a fifth are replies), likes and reposts of
recent posts from random users, interleaved. The timed part is what the consumer does per frame:
parse, read the CAR, decode and lexicon-check each record, and index it in batches (one
transaction per batch, SQLite by default), with decoding in a worker process. Reported: events/s
(wall clock, and per CPU-second of the indexing process, which is what a shared machine
distorts least), p50/p99/max latency of a batch's transaction and the mean batch size, the
machine's load average, peak RSS, database and search index size, and disk per million posts
extrapolated from the run.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from itertools import accumulate, count
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import max_rss_mib, percentiles
from sonet.appview.ingest.context import IndexConfig
from sonet.appview.ingest.decode_pool import DecodePool
from sonet.appview.ingest.frame_events import FrameDecoder
from sonet.appview.ingest.indexer import Indexer
from sonet.appview.ingest.pipeline import MAX_BATCH, IngestPipeline
from sonet.appview.schema import migrate_appview
from sonet.appview.search.index import SearchIndex
from sonet.appview.search.updater import SearchUpdater
from sonet.lexicons import Lexicons
from sonet.repo import cbor
from sonet.repo.car import car_bytes
from sonet.storage.database import Database, sqlite_url
from sonet.sync.events import commit_body
from sonet.syntax.tid import tid_from
from sonet.xrpc.frames import MessageFrame

NOW = "2025-06-01T12:00:00.000Z"
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
    "search",
    "python",
    "rust",
    "firehose",
    "relay",
    "index",
    "post",
    "like",
    "repost",
    "follow",
    "reply",
    "thread",
    "hashtag",
    "news",
    "music",
    "art",
]


class Network:
    """Builds the synthetic stream as subscribeRepos frames."""

    def __init__(self, users: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.dids = [f"did:plc:bench{i:08d}" for i in range(users)]
        self.clock = count(1_740_000_000_000_000, 1000)
        self.seq = count(1)
        weights = [1 / (rank + 1) ** 1.1 for rank in range(users)]
        self.cumulative = list(accumulate(weights))
        self.posts: list[tuple[str, str]] = []

    def zipf_user(self) -> int:
        x = self.rng.random() * self.cumulative[-1]
        return bisect.bisect_left(self.cumulative, x)

    def frame(self, did: str, collection: str, value: dict[str, Any]) -> tuple[bytes, str]:
        rkey = tid_from(next(self.clock), 0)
        record = {"$type": collection, "createdAt": NOW, **value}
        cid, data = cbor.encode_with_cid(record)
        commit_cid, commit_block = cbor.encode_with_cid({"did": did, "rev": rkey})
        blocks = car_bytes(commit_cid, [(commit_cid, commit_block), (cid, data)])
        from sonet.repo.mst_proof import RepoOp

        body = commit_body(
            seq=next(self.seq),
            repo=did,
            commit=commit_cid,
            rev=rkey,
            since=None,
            blocks=blocks,
            ops=[RepoOp("create", f"{collection}/{rkey}", cid)],
            prev_data=None,
            time=NOW,
        )
        return MessageFrame(
            body, "#commit"
        ).to_bytes(), f"at://{did}/{collection}/{rkey}|{cid.encode()}"

    def follows(self, total: int) -> list[bytes]:
        frames: list[bytes] = []
        seen: set[tuple[int, int]] = set()
        while len(frames) < total:
            a, b = self.rng.randrange(len(self.dids)), self.zipf_user()
            if a == b or (a, b) in seen:
                continue
            seen.add((a, b))
            frames.append(
                self.frame(self.dids[a], "app.bsky.graph.follow", {"subject": self.dids[b]})[0]
            )
        return frames

    def text(self) -> str:
        words = self.rng.choices(WORDS, k=self.rng.randint(4, 20))
        if self.rng.random() < 0.1:
            words.append("#" + self.rng.choice(WORDS))
        return " ".join(words)

    def activity(self, posts: int, likes: int, reposts: int) -> list[bytes]:
        kinds = ["post"] * posts + ["like"] * likes + ["repost"] * reposts
        self.rng.shuffle(kinds)
        frames: list[bytes] = []
        for kind in kinds:
            did = self.dids[self.rng.randrange(len(self.dids))]
            if kind == "post" or not self.posts:
                value: dict[str, Any] = {"text": self.text(), "langs": ["en"]}
                if self.posts and self.rng.random() < 0.2:
                    uri, cid = self.posts[-self.rng.randint(1, min(len(self.posts), 500))]
                    value["reply"] = {
                        "root": {"uri": uri, "cid": cid},
                        "parent": {"uri": uri, "cid": cid},
                    }
                frame, ref = self.frame(did, "app.bsky.feed.post", value)
                self.posts.append(tuple(ref.split("|")))  # type: ignore[arg-type]
            else:
                uri, cid = self.posts[-self.rng.randint(1, min(len(self.posts), 2000))]
                collection = "app.bsky.feed.like" if kind == "like" else "app.bsky.feed.repost"
                frame, _ = self.frame(did, collection, {"subject": {"uri": uri, "cid": cid}})
            frames.append(frame)
        return frames


async def ingest(
    frames: list[bytes], indexer: Indexer, batch: int, pool: DecodePool | None
) -> float:
    """Feed frames through the consumer's pipeline (decoding in ``pool`` if given)."""
    pipeline = IngestPipeline(
        indexer, FrameDecoder(Lexicons.bundled()), "bench", pool=pool, max_batch=batch
    )
    latencies: list[float] = []
    sizes: list[int] = []
    apply = indexer.apply

    async def timed_apply(events: Any, cursor: Any = None) -> None:
        began = time.perf_counter()
        await apply(events, cursor)
        latencies.append(time.perf_counter() - began)
        sizes.append(len(events))

    indexer.apply = timed_apply  # type: ignore[method-assign]
    pipeline.start()
    start, cpu = time.perf_counter(), cpu_seconds()
    for frame in frames:
        await pipeline.feed(frame)
    await pipeline.stop()
    elapsed, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    indexer.apply = apply  # type: ignore[method-assign]
    p50, p99 = percentiles(latencies)
    print(f"  ({len(frames) / cpu:,.0f} events per CPU-second of the indexing process)")
    print(
        f"  (batches: p50 {p50 * 1000:,.0f} ms, p99 {p99 * 1000:,.0f} ms, "
        f"max {max(latencies) * 1000:,.0f} ms, {sum(sizes) / len(sizes):,.0f} events each; "
        f"load average {os.getloadavg()[0]:.2f})"
    )
    return elapsed


def cpu_seconds() -> float:
    """CPU time of this process (the decoding workers excluded)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=40_000)
    parser.add_argument("--follows", type=int, default=20_000)
    parser.add_argument("--likes", type=int, default=30_000)
    parser.add_argument("--reposts", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=MAX_BATCH)
    parser.add_argument("--fanout-threshold", type=int, default=1000)
    parser.add_argument("--decode-workers", type=int, default=1, help="0: decode in process")
    parser.add_argument("--no-search", action="store_true", help="skip the search index")
    parser.add_argument("--database", default=None, help="database URL (default: temp SQLite)")
    args = parser.parse_args()

    net = Network(args.users, seed=1)
    t0 = time.perf_counter()
    follow_frames = net.follows(args.follows)
    activity_frames = net.activity(args.posts, args.likes, args.reposts)
    print(
        f"generated {len(follow_frames) + len(activity_frames):,} frames in "
        f"{time.perf_counter() - t0:.1f} s"
    )

    tmp = Path(tempfile.mkdtemp(prefix="sonet-appview-bench-"))
    db = Database.open(args.database or sqlite_url(tmp / "appview.sqlite"))
    try:
        await migrate_appview(db)
        search = None if args.no_search else SearchIndex(tmp / "search", commit_interval=1.0)
        indexer = Indexer(
            db,
            IndexConfig(fanout_threshold=args.fanout_threshold),
            search=None if search is None else SearchUpdater(db, search),
        )
        await indexer.prepare()
        pool = DecodePool(args.decode_workers) if args.decode_workers else None
        if pool is not None:
            await pool.start()
        follows_s = await ingest(follow_frames, indexer, args.batch, pool)
        print(f"follows: {len(follow_frames) / follows_s:,.0f} events/s ({len(follow_frames):,})")
        activity_s = await ingest(activity_frames, indexer, args.batch, pool)
        if pool is not None:
            await pool.close()
        if search is not None:
            await search.close()
        print(
            f"posts+likes+reposts: {len(activity_frames) / activity_s:,.0f} events/s "
            f"({len(activity_frames):,})"
        )
        total = len(follow_frames) + len(activity_frames)
        print(f"overall: {total / (follows_s + activity_s):,.0f} events/s")
        print(f"timeline rows pushed: {indexer.stats['timeline_rows']:,}")
        print(f"peak RSS: {max_rss_mib():,.0f} MiB")
        search_size = dir_size(tmp / "search") if search is not None else 0
        if args.database is None:
            await db.close()
            with sqlite3.connect(tmp / "appview.sqlite") as sq:
                sq.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            size = dir_size(tmp) - search_size
            print(
                f"database: {size / 2**20:,.1f} MiB; per million posts (with this run's "
                f"likes/follows/reposts mix): {size / args.posts * 1e6 / 2**30:,.2f} GiB"
            )
        if search is not None:
            print(
                f"search index: {search_size / 2**20:,.1f} MiB; per million posts: "
                f"{search_size / args.posts * 1e6 / 2**30:,.2f} GiB"
            )
    finally:
        await db.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
