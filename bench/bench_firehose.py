"""Firehose fan-out: 100 websocket subscribers each receiving every event while writes run.

Run: ``python bench/bench_firehose.py [seconds] [subscribers]``. The PDS of
``bench_pds_writes`` (SQLite, child process) serves on loopback; this process opens the
subscribers (aiohttp websockets, counting frames) and drives createRecord with 16 requests in
flight over 16 repos for ``seconds``. Reported: events sequenced per second, frames delivered per
second over all subscribers, whether every subscriber got every event, and peak RSS of the
server and of this process. Client and server share the machine's 2 cores.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_pds_writes import WRITERS, create_request, running_pds
from bench.harness import max_rss_mib
from bench.loopback import load

SUB = "/xrpc/com.atproto.sync.subscribeRepos"


class Subscriber:
    """Counts the frames one websocket receives."""

    def __init__(self) -> None:
        self.frames = 0
        self.bytes = 0
        self.last_at = 0.0

    async def run(
        self, session: aiohttp.ClientSession, url: str, ready: asyncio.Event, cursor: int | None
    ) -> None:
        params = {} if cursor is None else {"cursor": str(cursor)}
        async with session.ws_connect(url, params=params, max_msg_size=0) as ws:
            ready.set()
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    self.frames += 1
                    self.bytes += len(msg.data)
                    self.last_at = time.perf_counter()


async def run(port: int, dids: list[str], tokens: list[str], seconds: float, count: int) -> None:
    subscribers = [Subscriber() for _ in range(count)]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        url = f"http://127.0.0.1:{port}{SUB}"
        readies = [asyncio.Event() for _ in subscribers]
        tasks = [
            asyncio.create_task(s.run(session, url, r, None))
            for s, r in zip(subscribers, readies, strict=True)
        ]
        await asyncio.gather(*(r.wait() for r in readies))
        await asyncio.sleep(0.5)
        requests = [create_request(d, t) for d, t in zip(dids, tokens, strict=True)]
        start = time.perf_counter()
        _rate, latencies = await load(port, requests, seconds)
        writes_done = time.perf_counter()
        expected = len(latencies) + len(requests)  # timed writes plus one warm-up per worker
        deadline = writes_done + 60
        while time.perf_counter() < deadline and min(s.frames for s in subscribers) < expected:
            await asyncio.sleep(0.05)
        finished = max(s.last_at for s in subscribers)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        delivered = sum(s.frames for s in subscribers)
        complete = sum(1 for s in subscribers if s.frames == expected)
        elapsed = finished - start
        print(
            f"{count} subscribers, {WRITERS} writers in flight for {seconds:.0f} s: "
            f"{expected / (writes_done - start):,.0f} events/s sequenced, "
            f"{delivered / elapsed:,.0f} frames/s delivered "
            f"({delivered:,} frames, {sum(s.bytes for s in subscribers) / 2**20:,.1f} MiB); "
            f"{complete}/{count} subscribers got all {expected:,} events; "
            f"last delivery {finished - writes_done:.2f} s after the last write"
        )
        await replay(session, url, count, expected + len(dids))  # and the repo creations


async def replay(session: aiohttp.ClientSession, url: str, count: int, events: int) -> None:
    """``count`` new subscribers replay the whole log at once (cursor 0): fan-out capacity."""
    subscribers = [Subscriber() for _ in range(count)]
    readies = [asyncio.Event() for _ in subscribers]
    start = time.perf_counter()
    tasks = [
        asyncio.create_task(s.run(session, url, r, 0))
        for s, r in zip(subscribers, readies, strict=True)
    ]
    deadline = start + 120
    while time.perf_counter() < deadline and min(s.frames for s in subscribers) < events:
        await asyncio.sleep(0.05)
    elapsed = max(s.last_at for s in subscribers) - start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    delivered = sum(s.frames for s in subscribers)
    print(
        f"{count} subscribers replaying {events:,} events from cursor 0: "
        f"{delivered / elapsed:,.0f} frames/s delivered in {elapsed:.2f} s"
    )


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with running_pds() as (parent, port, dids, tokens):
        asyncio.run(run(port, dids, tokens, seconds, count))
        parent.send("rss")
        print(f"peak RSS: server {parent.recv():,.0f} MiB, subscribers {max_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
