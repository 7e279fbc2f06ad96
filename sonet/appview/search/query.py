"""Searching posts and actors (``app.bsky.feed.searchPosts``, ``app.bsky.actor.searchActors`` and
``searchActorsTypeahead``).

Results are URIs / DIDs, best first, with an opaque cursor (the offset of the next page) when
there may be more; the read API hydrates them (and drops what the viewer may not see). ``q`` uses
the tantivy query language leniently (``"exact phrase"``, ``word OR word``, ``-word``); ``*``
matches everything. ``top`` ranks by relevance, ``latest`` by creation time, newest first (found
in the newest hours first; ``hitsTotal`` then counts up to :data:`HITS_TRACKED`).
Filters: ``author`` and ``mentions`` (DIDs), ``lang``, ``tag`` (all given tags, without ``#``),
``domain`` (linked host; ``www.`` ignored), ``since``/``until`` (datetimes: created at or after /
before).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import tantivy

from sonet.appview.search.index import SearchIndex, millis

__all__ = [
    "HITS_TRACKED",
    "LATEST_WINDOWS_FROM",
    "LATEST_WINDOWS_MS",
    "MAX_OFFSET",
    "SearchPage",
    "SearchQueryError",
    "search_actors",
    "search_posts",
]

MAX_OFFSET: Final = 10_000
MAX_LIMIT: Final = 100
HITS_TRACKED: Final = 10_000
"""Matches of a ``latest`` search counted exactly; past that, ``hitsTotal`` is at least this
(the lexicon allows a truncated count; the reference's Elasticsearch stops at 10,000 too)."""
LATEST_WINDOWS_MS: Final = tuple(hours * 3_600_000 for hours in (1, 8, 64, 512))
"""Creation-time windows a ``latest`` search tries, newest first, before searching everything."""
LATEST_WINDOWS_FROM: Final = 250_000
"""Posts indexed from which ``latest`` searches try windows (each costs a scan of the creation
times: below this, searching everything at once is as cheap)."""


class SearchQueryError(ValueError):
    """A search parameter is unusable (bad cursor, bad datetime)."""


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of results and the cursor of the next (None at the end)."""

    items: list[str]
    cursor: str | None
    hits_total: int


def _offset(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 0
    if not cursor.isdigit() or int(cursor) > MAX_OFFSET:
        raise SearchQueryError("invalid cursor")
    return int(cursor)


def _limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_LIMIT))  # never 0: tantivy panics on a 0-hit search


def _text_query(
    index: tantivy.Index, q: str, fields: list[str], boosts: dict[str, float]
) -> tantivy.Query:
    q = q.strip()
    if q in ("", "*"):
        return tantivy.Query.all_query()
    query, _errors = index.parse_query_lenient(q, fields, field_boosts=boosts)
    return query


def _terms(schema: tantivy.Schema, field: str, values: Sequence[str]) -> list[tantivy.Query]:
    return [tantivy.Query.term_query(schema, field, v) for v in values if v]


def _count(result: tantivy.SearchResult) -> int:
    return int(getattr(result, "count", 0) or 0)


def _page(
    searcher: tantivy.Searcher, result: tantivy.SearchResult, field: str, offset: int, limit: int
) -> SearchPage:
    items = [str(searcher.doc(address)[field][0]) for _, address in result.hits]
    total = _count(result)
    more = offset + len(items) < total and offset + limit <= MAX_OFFSET
    return SearchPage(items, str(offset + limit) if more else None, total)


def search_posts(
    index: SearchIndex,
    q: str,
    *,
    sort: Literal["top", "latest"] = "latest",
    author: str | None = None,
    mentions: str | None = None,
    lang: str | None = None,
    since: str | None = None,
    until: str | None = None,
    tag: Sequence[str] = (),
    domain: str | None = None,
    limit: int = 25,
    cursor: str | None = None,
    windows_from: int = LATEST_WINDOWS_FROM,
) -> SearchPage:
    """Posts matching ``q`` and every filter (``latest`` tries creation-time windows on an
    index of at least ``windows_from`` posts)."""
    offset, limit = _offset(cursor), _limit(limit)
    schema = index.posts.schema
    must = [_text_query(index.posts, q, ["text"], {})]
    must += _terms(schema, "author", [author or ""])
    must += _terms(schema, "mentions", [mentions or ""])
    must += _terms(schema, "langs", [(lang or "").lower()])
    must += _terms(schema, "tags", [t.lower().lstrip("#") for t in tag])
    must += _terms(schema, "domains", [(domain or "").lower().removeprefix("www.")])
    low = _bound(since)
    high = _bound(until)
    searcher = index.posts.searcher()
    if sort == "latest":
        windows = LATEST_WINDOWS_MS if searcher.num_docs >= windows_from else ()
        result = _latest(searcher, schema, must, windows, low, high, offset, limit)
    else:
        query = _all(must + _created(schema, low, high))
        result = searcher.search(query, limit, count=True, offset=offset)
    return _page(searcher, result, "uri", offset, limit)


def _all(must: list[tantivy.Query]) -> tantivy.Query:
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, m) for m in must])


def _created(schema: tantivy.Schema, low: int | None, high: int | None) -> list[tantivy.Query]:
    """Created at or after ``low`` and before ``high`` (nothing when neither is given)."""
    if low is None and high is None:
        return []
    upper = None if high is None else high - 1
    return [tantivy.Query.range_query(schema, "created_at", tantivy.FieldType.Integer, low, upper)]


def _latest(
    searcher: tantivy.Searcher,
    schema: tantivy.Schema,
    must: list[tantivy.Query],
    windows: Sequence[int],
    low: int | None,
    high: int | None,
    offset: int,
    limit: int,
) -> tantivy.SearchResult:
    """Newest first. Ordering by creation time reads every match, so the ``windows`` (widths
    in milliseconds) ending at ``high`` (or now) are searched first, then everything: the
    first window with enough matches for the page and :data:`HITS_TRACKED` of them holds the
    page (everything outside it is older), and its count is ``hitsTotal``."""
    anchor = high if high is not None else int(time.time() * 1000)
    for width in windows:
        start = anchor - width
        if low is not None and start <= low:
            break
        query = _all(must + _created(schema, start, high))
        result = searcher.search(
            query, limit, count=True, order_by_field="created_at", offset=offset
        )
        if _count(result) >= max(offset + limit, HITS_TRACKED):
            return result
    query = _all(must + _created(schema, low, high))
    return searcher.search(query, limit, count=True, order_by_field="created_at", offset=offset)


def _bound(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    ms = millis(value)
    if ms is None:
        raise SearchQueryError(f"invalid datetime {value!r}")
    return ms


def search_actors(
    index: SearchIndex,
    q: str,
    *,
    typeahead: bool = False,
    limit: int = 25,
    cursor: str | None = None,
) -> SearchPage:
    """Actors matching ``q``: by words of handle, display name and description, or (typeahead)
    by prefixes of the words of handle and display name."""
    offset, limit = _offset(cursor), _limit(limit)
    schema = index.actors.schema
    if typeahead:
        words = q.lower().split()
        if not words:
            return SearchPage([], None, 0)
        terms = _terms(schema, "prefixes", [w[:24] for w in words])
        query = tantivy.Query.boolean_query([(tantivy.Occur.Must, t) for t in terms])
    else:
        if not q.strip():
            return SearchPage([], None, 0)
        query = _text_query(
            index.actors,
            q,
            ["handle", "display_name", "description"],
            {"handle": 3.0, "display_name": 2.0},
        )
    searcher = index.actors.searcher()
    result = searcher.search(query, limit, count=True, offset=offset)
    return _page(searcher, result, "did", offset, limit)
