"""Identity hot paths: cached DID/handle resolution and DID document parsing.

Run: ``python bench/bench_identity.py``. Nothing leaves
the process: the caches are filled directly, so only cache and parsing paths are timed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import throughput
from sonet.crypto import K256Keypair
from sonet.identity.cache import MemoryCache
from sonet.identity.did_doc import DidDocument, parse_atproto_identity, validate_did_doc
from sonet.identity.did_resolver import DidResolver
from sonet.identity.handle_resolver import HandleResolver
from sonet.net import HttpClient
from tests.identity.fixtures import plc_style_doc, random_plc_did

ACCOUNTS = 10_000


async def async_rate(fn: Callable[[int], Awaitable[object]], seconds: float = 1.0) -> float:
    """Awaited calls per second of ``fn(i)``: the best of three runs."""
    best = 0.0
    for _ in range(3):
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for i in range(calls, calls + 200):
                await fn(i)
            calls += 200
        best = max(best, calls / elapsed)
    return best


async def bench_cached(dids: list[str], docs: list[DidDocument]) -> None:
    http = HttpClient()
    did_cache: MemoryCache[DidDocument] = MemoryCache()
    handle_cache: MemoryCache[str] = MemoryCache()
    for did, doc in zip(dids, docs, strict=True):
        await did_cache.set(did, doc)
        await handle_cache.set(f"u{did[-8:]}.test", did)
    resolver = DidResolver(http, cache=did_cache)
    handles = HandleResolver(http, cache=handle_cache)
    names = [f"u{did[-8:]}.test" for did in dids]
    n = len(dids)
    print(
        f"cached DID resolve         {await async_rate(lambda i: resolver.resolve(dids[i % n])):>10,.0f} /s"
    )
    print(
        f"cached resolve_atproto     {await async_rate(lambda i: resolver.resolve_atproto(dids[i % n])):>10,.0f} /s"
    )
    print(
        f"cached handle resolve      {await async_rate(lambda i: handles.resolve(names[i % n])):>10,.0f} /s"
    )
    await http.close()


def main() -> None:
    dids = [random_plc_did() for _ in range(ACCOUNTS)]
    docs = [
        plc_style_doc(did, handle=f"u{did[-8:]}.test", keypair=K256Keypair.generate())
        for did in dids
    ]
    turn = iter(range(1 << 62))

    def parse_next() -> object:
        i = next(turn) % ACCOUNTS
        return parse_atproto_identity(docs[i], dids[i])

    print(
        f"validate_did_doc           {throughput(lambda: validate_did_doc(docs[0], dids[0])):>10,.0f} /s"
    )
    print(
        f"parse_atproto_identity     {throughput(parse_next):>10,.0f} /s  ({ACCOUNTS:,} docs, keys cached)"
    )
    asyncio.run(bench_cached(dids, docs))


if __name__ == "__main__":
    main()
