"""Home timelines read with hybrid fan-out (``app.bsky.feed.getTimeline``).

At ingest, the posts and reposts of authors with fewer followers than the fan-out threshold
are pushed into their followers' ``timeline_item`` rows (and their own); the items of
more-followed followees are pulled from their author feeds here and merged, newest first,
keyed by ``(sort_at, uri)``. Cursors are that keyset, so pages stay stable while new items
arrive (they sort above every cursor already handed out).

Pulled authors are the viewer's followees (and the viewer) with at least half the threshold
in followers: an author whose follower count moves around the threshold has some items
pushed and some pulled, and duplicates are merged. Their recent items, read by many
timelines, are cached for a few seconds (in memory, or in Redis when configured, shared by
every AppView process).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Final, Protocol

import orjson
from redis.asyncio import Redis

from sonet.storage.appview_read_feeds import FeedItemRef
from sonet.storage.appview_read_sql import Keyset, Page, Steps, run_read
from sonet.storage.appview_read_timeline import author_items, pulled_authors, pushed_items
from sonet.storage.database import Database

__all__ = [
    "RECENT_ITEMS",
    "AuthorItemsCache",
    "MemoryAuthorItemsCache",
    "RedisAuthorItemsCache",
    "TimelineReader",
]

RECENT_ITEMS: Final = 200
"""Recent items cached per pulled author."""


class AuthorItemsCache(Protocol):
    """Recent feed items of pulled authors, newest first, kept for a short time."""

    async def get_many(self, dids: Sequence[str]) -> dict[str, list[FeedItemRef]]:
        """The cached items of those of ``dids`` that are cached."""

    async def put_many(self, items: dict[str, list[FeedItemRef]]) -> None:
        """Cache the recent items of authors."""


class MemoryAuthorItemsCache:
    """:class:`AuthorItemsCache` in this process (least recently stored evicted first)."""

    def __init__(self, ttl: float, max_authors: int = 10_000) -> None:
        self.ttl = ttl
        self.max_authors = max_authors
        self._items: OrderedDict[str, tuple[float, list[FeedItemRef]]] = OrderedDict()

    async def get_many(self, dids: Sequence[str]) -> dict[str, list[FeedItemRef]]:
        now = time.monotonic()
        found: dict[str, list[FeedItemRef]] = {}
        for did in dids:
            entry = self._items.get(did)
            if entry is not None and entry[0] > now:
                found[did] = entry[1]
        return found

    async def put_many(self, items: dict[str, list[FeedItemRef]]) -> None:
        expires = time.monotonic() + self.ttl
        for did, recent in items.items():
            self._items.pop(did, None)
            self._items[did] = (expires, recent)
        while len(self._items) > self.max_authors:
            self._items.popitem(last=False)


class RedisAuthorItemsCache:
    """:class:`AuthorItemsCache` in Redis (``SET ... PX``), shared by AppView processes."""

    def __init__(self, client: Redis, ttl: float, prefix: str = "sonet:appview:items:") -> None:
        self.client = client
        self.ttl_ms = max(1, int(ttl * 1000))
        self.prefix = prefix

    async def get_many(self, dids: Sequence[str]) -> dict[str, list[FeedItemRef]]:
        if not dids:
            return {}
        values = await self.client.mget([self.prefix + d for d in dids])
        found: dict[str, list[FeedItemRef]] = {}
        for did, value in zip(dids, values, strict=True):
            if value is not None:
                found[did] = [FeedItemRef(p, r, s) for p, r, s in orjson.loads(value)]
        return found

    async def put_many(self, items: dict[str, list[FeedItemRef]]) -> None:
        if not items:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for did, recent in items.items():
                value = orjson.dumps([(i.post, i.repost, i.sort_at) for i in recent])
                pipe.set(self.prefix + did, value, px=self.ttl_ms)
            await pipe.execute()


def _key(item: FeedItemRef) -> tuple[str, str]:
    return item.sort_at, item.repost or item.post


def _after(items: Iterable[FeedItemRef], after: Keyset | None) -> list[FeedItemRef]:
    if after is None:
        return list(items)
    bound = (after.sort_at, after.key)
    return [i for i in items if _key(i) < bound]


class TimelineReader:
    """Reads home timelines from ``db``; ``fanout_threshold`` must be the indexer's."""

    def __init__(
        self, db: Database, fanout_threshold: int, cache: AuthorItemsCache | None = None
    ) -> None:
        self.db = db
        self.fanout_threshold = fanout_threshold
        self.cache = cache

    @property
    def pull_threshold(self) -> int:
        """Followees with at least this many followers are pulled at read time."""
        return max(1, self.fanout_threshold // 2) if self.fanout_threshold > 0 else 0

    async def page(self, viewer: str, limit: int, after: Keyset | None) -> Page[FeedItemRef]:
        """One page of ``viewer``'s home timeline, newest first."""

        def first_hop() -> Steps[tuple[list[FeedItemRef], list[str]]]:
            pushed = yield from pushed_items(viewer, limit + 1, after)
            authors = yield from pulled_authors(viewer, self.pull_threshold)
            return pushed, authors

        pushed, authors = await run_read(self.db, first_hop())
        if self.fanout_threshold <= 0 and viewer not in authors:
            authors.append(viewer)
        pulled = await self._pulled(authors, limit + 1, after)
        merged = {_key(i)[1]: i for i in (*pushed, *pulled)}
        ordered = sorted(merged.values(), key=_key, reverse=True)
        items = ordered[:limit]
        more = len(ordered) > limit and items
        last = items[-1] if more else None
        return Page(items, Keyset(*_key(last)) if last is not None else None)

    async def _pulled(
        self, authors: list[str], count: int, after: Keyset | None
    ) -> list[FeedItemRef]:
        if not authors:
            return []
        cached = await self.cache.get_many(authors) if self.cache is not None else {}
        found: list[FeedItemRef] = []
        missing: list[str] = []
        for did in authors:
            recent = cached.get(did)
            if recent is None:
                missing.append(did)
                continue
            below = _after(recent, after)
            if len(below) >= count or len(recent) < RECENT_ITEMS:
                found += below[:count]
            else:
                missing.append(did)
        if not missing:
            return found
        if self.cache is None or after is not None:
            return found + await run_read(self.db, author_items(missing, count, after))
        fresh = await run_read(self.db, author_items(missing, RECENT_ITEMS, None))
        by_author: dict[str, list[FeedItemRef]] = {did: [] for did in missing}
        for item in fresh:
            by_author[_author(item)].append(item)
        await self.cache.put_many(by_author)
        return found + [i for items in by_author.values() for i in items[:count]]


def _author(item: FeedItemRef) -> str:
    uri = item.repost or item.post
    return uri[5:].split("/", 1)[0]
