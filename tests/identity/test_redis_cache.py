"""The Redis-backed identity cache against the real Redis server."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from sonet.identity.cache import CachePolicy
from sonet.identity.redis_cache import RedisCache
from tests.identity.fixtures import plc_style_doc, random_plc_did


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


@pytest.fixture
def namespace() -> str:
    return "sonet-test:" + secrets.token_hex(6)


async def test_round_trip_and_staleness(client: Redis, namespace: str) -> None:
    clock = Clock()
    cache: RedisCache[dict[str, Any]] = RedisCache(
        client, namespace, CachePolicy(60, 600), clock=clock
    )
    did = random_plc_did()
    doc = plc_style_doc(did)
    await cache.set(did, doc)
    hit = await cache.get(did)
    assert hit is not None and hit.value == doc and not hit.stale
    ttl = await client.pttl(f"{namespace}:{did}")
    assert 0 < ttl <= 600_000
    clock.now += 61
    hit = await cache.get(did)
    assert hit is not None and hit.stale
    clock.now += 600
    assert await cache.get(did) is None
    await cache.clear()


async def test_delete_clear_and_isolation(client: Redis, namespace: str) -> None:
    cache: RedisCache[str] = RedisCache(client, namespace)
    other: RedisCache[str] = RedisCache(client, namespace + "-other")
    for i in range(1200):
        await cache.set(f"h{i}.test", f"did:plc:{i}")
    await other.set("h0.test", "kept")
    await cache.delete("h0.test")
    assert await cache.get("h0.test") is None
    await cache.clear()
    assert await cache.get("h5.test") is None
    hit = await other.get("h0.test")
    assert hit is not None and hit.value == "kept"
    await other.clear()


async def test_corrupt_entry_is_a_miss(client: Redis, namespace: str) -> None:
    cache: RedisCache[str] = RedisCache(client, namespace)
    await client.set(f"{namespace}:bad", b"\x00not json")
    await client.set(f"{namespace}:shape", b'{"x": 1}')
    assert await cache.get("bad") is None
    assert await cache.get("shape") is None
    assert await client.exists(f"{namespace}:bad") == 0


async def test_unreachable_redis_degrades_to_misses() -> None:
    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    cache: RedisCache[str] = RedisCache(dead, "sonet-test")
    await cache.set("k", "v")
    assert await cache.get("k") is None
    await cache.delete("k")
    await cache.clear()
    await dead.aclose()


def test_namespace_checked(client: Redis) -> None:
    with pytest.raises(ValueError):
        RedisCache(client, "bad namespace*")
