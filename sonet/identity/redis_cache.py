"""A Redis-backed :class:`IdentityCache`, shared by every process of a deployment.

Entries are JSON ``{"v": value, "t": stored_at}`` under ``<namespace>:<key>`` with a
Redis expiry of the policy's maximum age. Redis failures count as cache misses
(and lost writes): the cache must never make resolution fail.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from sonet.identity.cache import CacheHit, CachePolicy, IdentityCache

V = TypeVar("V")
log = logging.getLogger(__name__)
_NAMESPACE: Final = re.compile(r"[A-Za-z0-9_.:-]+")
_DELETE_BATCH: Final = 500


class RedisCache(IdentityCache[V]):
    """Values (JSON-serialisable) in Redis under ``namespace``; the client belongs to the caller."""

    def __init__(
        self,
        client: Redis,
        namespace: str,
        policy: CachePolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(policy)
        if _NAMESPACE.fullmatch(namespace) is None:
            raise ValueError(f"bad cache namespace {namespace!r}")
        self._redis = client
        self._prefix = namespace + ":"
        self._clock = clock
        self._ttl_ms = max(1, int(self.policy.max_age_seconds * 1000))

    async def get(self, key: str) -> CacheHit[V] | None:
        try:
            raw = await self._redis.get(self._prefix + key)
        except RedisError as exc:
            log.warning("identity cache read failed: %s", exc)
            return None
        if raw is None:
            return None
        try:
            entry: dict[str, Any] = orjson.loads(raw)
            value, stored_at = entry["v"], float(entry["t"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            await self.delete(key)
            return None
        age = self._clock() - stored_at
        if age > self.policy.max_age_seconds:
            return None
        return CacheHit(cast(V, value), age > self.policy.fresh_seconds)

    async def set(self, key: str, value: V) -> None:
        data = orjson.dumps({"v": value, "t": self._clock()})
        try:
            await self._redis.set(self._prefix + key, data, px=self._ttl_ms)
        except RedisError as exc:
            log.warning("identity cache write failed: %s", exc)

    async def delete(self, key: str) -> None:
        try:
            await self._redis.delete(self._prefix + key)
        except RedisError as exc:
            log.warning("identity cache delete failed: %s", exc)

    async def clear(self) -> None:
        batch: list[bytes | str] = []
        try:
            async for name in self._redis.scan_iter(match=self._prefix + "*", count=_DELETE_BATCH):
                batch.append(name)
                if len(batch) >= _DELETE_BATCH:
                    await self._redis.delete(*batch)
                    batch.clear()
            if batch:
                await self._redis.delete(*batch)
        except RedisError as exc:
            log.warning("identity cache clear failed: %s", exc)
