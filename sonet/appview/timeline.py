"""Home timelines read with hybrid fan-out (``app.bsky.feed.getTimeline``).

At ingest, the posts and reposts of authors with fewer followers than the fan-out threshold
are pushed into their followers' timelines (and their own); authors some of whose items were
not pushed are marked *pulled*, and the items of the viewer's pulled followees are read from
their author feeds here and merged, newest first, keyed by ``(sort_at, uri)``. Cursors are
that keyset, so pages stay stable while new items arrive (they sort above every cursor already
handed out). A pushed timeline is complete above its horizon (older rows are trimmed); a page
that reaches below it pulls the items of everyone the viewer follows there.

The pulled followees and their recent items, read by many timelines, are cached for a few
seconds (in memory, or in Redis when configured, shared by every AppView process), so a new
post of a big account shows within that delay.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Final, Protocol, TypeVar

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from sonet.storage.appview_read_feeds import FeedItemRef
from sonet.storage.appview_read_sql import Keyset, Page, Reader, Steps
from sonet.storage.appview_read_timeline import (
    author_items,
    followees,
    pulled_authors,
    pushed_items,
    timeline_owner,
)
from sonet.storage.appview_timeline_tables import sort_at_of, sort_key

__all__ = [
    "RECENT_ITEMS",
    "AuthorItemsCache",
    "MemoryAuthorItemsCache",
    "RedisAuthorItemsCache",
    "TimelineReader",
]

T = TypeVar("T")
log = logging.getLogger(__name__)

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
    """:class:`AuthorItemsCache` in Redis (``SET ... PX``), shared by AppView processes; when
    Redis is unreachable, timelines are read from the database alone."""

    def __init__(self, client: Redis, ttl: float, prefix: str = "sonet:appview:items:") -> None:
        self.client = client
        self.ttl_ms = max(1, int(ttl * 1000))
        self.prefix = prefix

    async def get_many(self, dids: Sequence[str]) -> dict[str, list[FeedItemRef]]:
        if not dids:
            return {}
        try:
            values = await self.client.mget([self.prefix + d for d in dids])
        except RedisError as exc:
            log.warning("timeline cache unavailable (read): %s", exc)
            return {}
        found: dict[str, list[FeedItemRef]] = {}
        for did, value in zip(dids, values, strict=True):
            if value is not None:
                found[did] = [FeedItemRef(p, r, s) for p, r, s in orjson.loads(value)]
        return found

    async def put_many(self, items: dict[str, list[FeedItemRef]]) -> None:
        if not items:
            return
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for did, recent in items.items():
                    value = orjson.dumps([(i.post, i.repost, i.sort_at) for i in recent])
                    pipe.set(self.prefix + did, value, px=self.ttl_ms)
                await pipe.execute()
        except RedisError as exc:
            log.warning("timeline cache unavailable (write): %s", exc)


def _key(item: FeedItemRef) -> tuple[str, str]:
    return item.sort_at, item.repost or item.post


def _after(items: Iterable[FeedItemRef], after: Keyset | None) -> list[FeedItemRef]:
    if after is None:
        return list(items)
    bound = (after.sort_at, after.key)
    return [i for i in items if _key(i) < bound]


class TimelineReader:
    """Reads home timelines (which authors are pulled is recorded at ingest). The viewer's
    pulled followees and their recent items are cached for ``cache_ttl`` seconds (in ``cache``,
    and the followees in memory), so that a page is usually one database hop."""

    def __init__(
        self,
        reader: Reader,
        cache: AuthorItemsCache | None = None,
        cache_ttl: float = 3.0,
        max_viewers: int = 50_000,
    ) -> None:
        self.reader = reader
        self.cache = cache
        self.cache_ttl = cache_ttl
        self.max_viewers = max_viewers
        self._authors: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()

    def _known_authors(self, viewer: str) -> list[str] | None:
        entry = self._authors.get(viewer)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def _remember_authors(self, viewer: str, authors: list[str]) -> None:
        self._authors.pop(viewer, None)
        self._authors[viewer] = (time.monotonic() + self.cache_ttl, authors)
        while len(self._authors) > self.max_viewers:
            self._authors.popitem(last=False)

    async def page(
        self,
        viewer: str,
        limit: int,
        after: Keyset | None,
        then: Callable[[Page[FeedItemRef]], Steps[T]] | None = None,
    ) -> tuple[Page[FeedItemRef], T | None]:
        """One page of ``viewer``'s home timeline, newest first, and what ``then`` (run on
        the page in the same database hop: its hydration) returns."""
        known = self._known_authors(viewer)
        cached = await self.cache.get_many(known) if self.cache and known else {}
        use_cache = self.cache is not None and after is None
        count = limit + 1

        def steps() -> Steps[
            tuple[Page[FeedItemRef], T | None, list[str] | None, list[FeedItemRef]]
        ]:
            owner, horizon = yield from timeline_owner(viewer)
            authors = known
            pushed: list[FeedItemRef] = []
            pulled: list[FeedItemRef] = []
            fresh: list[FeedItemRef] = []
            if horizon is None or after is None or sort_key(after.sort_at) > horizon:
                if owner is not None:
                    pushed = yield from pushed_items(owner, count, after)
                if authors is None:
                    authors = yield from pulled_authors(viewer)
                pulled, missing = _from_cache(authors, cached, count, after)
                if missing:
                    fetch = RECENT_ITEMS if use_cache else count
                    fresh = yield from author_items(missing, fetch, None if use_cache else after)
                    pulled += _after(fresh, after)
            if horizon is not None:
                pushed, pulled = _above(pushed, horizon), _above(pulled, horizon)
                if len({_key(i)[1] for i in (*pushed, *pulled)}) <= limit:
                    # the pushed rows are incomplete below the horizon: pull every followee
                    below = Keyset(sort_at_of(horizon + 1), "")
                    bound = after if after is not None and _before(after, below) else below
                    everyone = yield from followees(viewer)
                    pulled += yield from author_items(everyone, count, bound)
            page = _merge(pushed, pulled, limit)
            extra = (yield from then(page)) if then is not None else None
            return page, extra, authors, fresh

        page, extra, authors, fresh = await self.reader.run(steps())
        if known is None and authors is not None:
            self._remember_authors(viewer, authors)
        if use_cache and fresh and self.cache is not None:
            by_author: dict[str, list[FeedItemRef]] = {}
            for item in fresh:
                by_author.setdefault(_author(item), []).append(item)
            await self.cache.put_many(by_author)
        return page, extra


def _before(a: Keyset, b: Keyset) -> bool:
    return (a.sort_at, a.key) < (b.sort_at, b.key)


def _above(items: list[FeedItemRef], horizon: int) -> list[FeedItemRef]:
    return [i for i in items if sort_key(i.sort_at) > horizon]


def _from_cache(
    authors: list[str], cached: dict[str, list[FeedItemRef]], count: int, after: Keyset | None
) -> tuple[list[FeedItemRef], list[str]]:
    """Items of ``authors`` the cache can answer, and the authors it cannot."""
    found: list[FeedItemRef] = []
    missing: list[str] = []
    for did in authors:
        recent = cached.get(did)
        below = _after(recent, after) if recent is not None else []
        if recent is not None and (len(below) >= count or len(recent) < RECENT_ITEMS):
            found += below[:count]
        else:
            missing.append(did)
    return found, missing


def _merge(pushed: list[FeedItemRef], pulled: list[FeedItemRef], limit: int) -> Page[FeedItemRef]:
    merged = {_key(i)[1]: i for i in (*pushed, *pulled)}
    ordered = sorted(merged.values(), key=_key, reverse=True)
    items = ordered[:limit]
    last = items[-1] if len(ordered) > limit and items else None
    return Page(items, Keyset(*_key(last)) if last is not None else None)


def _author(item: FeedItemRef) -> str:
    uri = item.repost or item.post
    return uri[5:].split("/", 1)[0]
