"""Stale-while-revalidate and request coalescing in front of an identity lookup.

Fresh hits are served directly; stale hits are served while one background task
refreshes them; misses (and explicit refreshes) share one fetch per key however
many callers ask at once. A fetch answering None (not found) removes the entry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sonet.identity.cache import IdentityCache

V = TypeVar("V")
log = logging.getLogger(__name__)


class CachedLookup(Generic[V]):
    """``fetch(key)`` behind an optional :class:`IdentityCache`."""

    def __init__(
        self, fetch: Callable[[str], Awaitable[V | None]], cache: IdentityCache[V] | None = None
    ) -> None:
        self._fetch = fetch
        self.cache = cache
        self._inflight: dict[str, asyncio.Task[V | None]] = {}

    async def get(self, key: str) -> V | None:
        """The cached value (refreshing it in the background when stale), else a fetch."""
        if self.cache is not None:
            hit = await self.cache.get(key)
            if hit is not None:
                if hit.stale:
                    self._start(key)
                return hit.value
        return await self.refresh(key)

    async def refresh(self, key: str) -> V | None:
        """Fetch now, bypassing the cache (joining a fetch already under way), and store."""
        return await asyncio.shield(self._start(key))

    def _start(self, key: str) -> asyncio.Task[V | None]:
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch_and_store(key))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
            task.add_done_callback(_log_failure)
        return task

    def _forget(self, key: str, task: asyncio.Task[V | None]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]

    async def _fetch_and_store(self, key: str) -> V | None:
        value = await self._fetch(key)
        if self.cache is not None:
            if value is None:
                await self.cache.delete(key)
            else:
                await self.cache.set(key, value)
        return value

    async def close(self) -> None:
        """Cancel the fetches under way."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _log_failure(task: asyncio.Task[object]) -> None:
    """Retrieve (and log) a failure, which no caller may be left to see (stale refreshes)."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.debug("identity lookup failed: %s", exc)
