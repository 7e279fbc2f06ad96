"""AppView reads behind trending topics: hashtag use over a sliding window.

A tag's weight is the number of distinct posts using it (``#`` facets and record ``tags``,
lowercase, as the indexer stores them in ``post_facet``) since the window's start.
"""

from __future__ import annotations

from dataclasses import dataclass

from sonet.storage.appview_read_sql import Steps, fetch_all

__all__ = ["TagCount", "tag_authors", "tag_counts"]


@dataclass(frozen=True, slots=True)
class TagCount:
    """A hashtag, its posts since the window start, and its first use in the window."""

    tag: str
    posts: int
    started_at: str


def tag_counts(since: str, limit: int) -> Steps[list[TagCount]]:
    """The ``limit`` most used tags since ``since``."""
    rows = yield from fetch_all(
        'SELECT "value", COUNT(*), MIN(sort_at) FROM post_facet '
        'WHERE kind = ? AND sort_at >= ? GROUP BY "value" ORDER BY COUNT(*) DESC, "value" '
        "LIMIT ?",
        "tag",
        since,
        limit,
    )
    return [TagCount(str(t), int(n), str(s)) for t, n, s in rows]


def tag_authors(tag: str, since: str, limit: int) -> Steps[list[str]]:
    """The accounts that used ``tag`` most since ``since``."""
    rows = yield from fetch_all(
        "SELECT p.creator FROM post_facet f JOIN post p ON p.uri = f.post_uri "
        'WHERE f.kind = ? AND f."value" = ? AND f.sort_at >= ? '
        "GROUP BY p.creator ORDER BY COUNT(*) DESC, p.creator LIMIT ?",
        "tag",
        tag,
        since,
        limit,
    )
    return [str(r[0]) for r in rows]
