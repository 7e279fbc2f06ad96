"""AppView reads of home timelines (hybrid fan-out, as the indexer writes them).

``timeline_item`` holds the items pushed at ingest into each follower's timeline (authors with
fewer followers than the fan-out threshold, and one's own items); the items of more-followed
followees are read from their ``feed_item`` rows (one index range per author) and merged by
the reader. Both sides are ordered by ``(sort_at, uri)``, the timeline's keyset.
"""

from __future__ import annotations

from collections.abc import Sequence

from sonet.storage.appview_read_feeds import FeedItemRef, feed_item
from sonet.storage.appview_read_sql import Keyset, Steps, fetch_all, keyset_sql

__all__ = ["author_items", "pulled_authors", "pushed_items"]

_AUTHORS_PER_QUERY = 50


def pushed_items(owner: str, count: int, after: Keyset | None) -> Steps[list[FeedItemRef]]:
    """Up to ``count`` pushed items of ``owner``'s timeline after ``after``, newest first."""
    clause, order, params = keyset_sql(after, "t.sort_at", "t.uri")
    rows = yield from fetch_all(
        "SELECT t.uri, f.post_uri, t.sort_at FROM timeline_item t "
        f"JOIN feed_item f ON f.uri = t.uri WHERE t.owner_did = ?{clause}{order}",
        owner,
        *params,
        count,
    )
    return [feed_item(r) for r in rows]


def pulled_authors(viewer: str, min_followers: int) -> Steps[list[str]]:
    """Followees of ``viewer`` (and the viewer) with at least ``min_followers`` followers:
    their items are merged at read time."""
    rows = yield from fetch_all(
        "SELECT g.did FROM profile_agg g WHERE g.followers_count >= ? AND (g.did = ? OR "
        "g.did IN (SELECT subject_did FROM follow WHERE creator = ?))",
        min_followers,
        viewer,
        viewer,
    )
    return [str(r[0]) for r in rows]


def author_items(
    authors: Sequence[str], count: int, after: Keyset | None
) -> Steps[list[FeedItemRef]]:
    """Up to ``count`` items of each author after ``after``, newest first per author."""
    clause, order, params = keyset_sql(after, "sort_at", "uri")
    found: list[FeedItemRef] = []
    for start in range(0, len(authors), _AUTHORS_PER_QUERY):
        batch = authors[start : start + _AUTHORS_PER_QUERY]
        one = (
            "SELECT * FROM (SELECT uri, post_uri, sort_at FROM feed_item "
            f"WHERE originator_did = ?{clause}{order}) AS a"
        )
        sql = " UNION ALL ".join([one] * len(batch))
        args: list[object] = []
        for did in batch:
            args += [did, *params, count]
        found += [feed_item(r) for r in (yield from fetch_all(sql, *args))]
    return found
