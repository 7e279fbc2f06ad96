"""The in-memory identity cache and the stale-while-revalidate lookup in front of it."""

from __future__ import annotations

import asyncio

import pytest

from sonet.identity.cache import CachePolicy, MemoryCache
from sonet.identity.cached_lookup import CachedLookup


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_fresh_stale_expired(clock: Clock) -> None:
    cache: MemoryCache[str] = MemoryCache(CachePolicy(60, 600), clock=clock)
    await cache.set("k", "v")
    hit = await cache.get("k")
    assert hit is not None and hit.value == "v" and not hit.stale
    clock.now += 61
    hit = await cache.get("k")
    assert hit is not None and hit.stale
    clock.now += 600
    assert await cache.get("k") is None
    assert len(cache) == 0


async def test_lru_bound() -> None:
    cache: MemoryCache[int] = MemoryCache(max_entries=3)
    for i in range(3):
        await cache.set(str(i), i)
    await cache.get("0")  # now most recently used
    await cache.set("3", 3)
    assert await cache.get("1") is None
    assert [k for k in ("0", "2", "3") if await cache.get(k)] == ["0", "2", "3"]
    await cache.delete("0")
    await cache.clear()
    assert len(cache) == 0


def test_bad_settings() -> None:
    with pytest.raises(ValueError):
        CachePolicy(fresh_seconds=10, max_age_seconds=5)
    with pytest.raises(ValueError):
        MemoryCache(max_entries=0)


class Source:
    """An answer table with a call log; ``fail`` makes the next fetches raise."""

    def __init__(self) -> None:
        self.answers: dict[str, str | None] = {}
        self.calls: list[str] = []
        self.fail = False
        self.gate = asyncio.Event()
        self.gate.set()

    async def fetch(self, key: str) -> str | None:
        self.calls.append(key)
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("upstream down")
        return self.answers.get(key)


async def test_stale_served_then_refreshed(clock: Clock) -> None:
    src = Source()
    cache: MemoryCache[str] = MemoryCache(CachePolicy(60, 600), clock=clock)
    lookup = CachedLookup(src.fetch, cache)
    src.answers["k"] = "v1"
    assert await lookup.get("k") == "v1"
    src.answers["k"] = "v2"
    assert await lookup.get("k") == "v1" and src.calls == ["k"]
    clock.now += 61
    src.gate.clear()
    assert await lookup.get("k") == "v1"  # stale, served at once
    assert await lookup.get("k") == "v1"  # one background refresh only
    src.gate.set()
    await asyncio.sleep(0.01)
    assert src.calls == ["k", "k"]
    assert await lookup.get("k") == "v2"


async def test_failed_refresh_keeps_stale_entry(clock: Clock) -> None:
    src = Source()
    cache: MemoryCache[str] = MemoryCache(CachePolicy(60, 600), clock=clock)
    lookup = CachedLookup(src.fetch, cache)
    src.answers["k"] = "v1"
    await lookup.get("k")
    clock.now += 61
    src.fail = True
    assert await lookup.get("k") == "v1"
    await asyncio.sleep(0.01)
    assert await lookup.get("k") == "v1"
    with pytest.raises(RuntimeError):
        await lookup.refresh("k")


async def test_not_found_drops_entry(clock: Clock) -> None:
    src = Source()
    cache: MemoryCache[str] = MemoryCache(clock=clock)
    lookup = CachedLookup(src.fetch, cache)
    src.answers["k"] = "v"
    await lookup.get("k")
    src.answers["k"] = None
    assert await lookup.refresh("k") is None
    assert await cache.get("k") is None


async def test_coalescing_and_cancelled_caller() -> None:
    src = Source()
    lookup: CachedLookup[str] = CachedLookup(src.fetch, MemoryCache())
    src.answers["k"] = "v"
    src.gate.clear()
    waiters = [asyncio.create_task(lookup.get("k")) for _ in range(5)]
    await asyncio.sleep(0.01)
    waiters[0].cancel()
    src.gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert results[1:] == ["v"] * 4
    assert src.calls == ["k"]


async def test_close_cancels_background_work() -> None:
    src = Source()
    lookup: CachedLookup[str] = CachedLookup(src.fetch)
    src.gate.clear()
    waiter = asyncio.create_task(lookup.get("k"))
    await asyncio.sleep(0.01)
    await lookup.close()
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_without_cache_every_get_fetches() -> None:
    src = Source()
    lookup: CachedLookup[str] = CachedLookup(src.fetch)
    src.answers["k"] = "v"
    assert [await lookup.get("k") for _ in range(3)] == ["v"] * 3
    assert src.calls == ["k"] * 3
