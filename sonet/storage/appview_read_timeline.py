"""AppView reads of home timelines (hybrid fan-out, as the indexer writes them).

``timeline_item`` holds, per owner, the items pushed at ingest (authors below the fan-out
threshold, and one's own items) down to the owner's *horizon*; authors marked in
``timeline_pulled`` (some items not pushed) are read from their ``feed_item`` rows (one index
range per author) and merged by the reader, as is everyone followed below the horizon. Both
sides are ordered by ``(sort_at, uri)``, the timeline's keyset (pushed rows by their
``sort_key``, which orders like ``sort_at``, then the item's URI).
"""

from __future__ import annotations

from collections.abc import Sequence

from sonet.storage.appview_read_feeds import FeedItemRef, feed_item
from sonet.storage.appview_read_sql import Keyset, Steps, fetch_all, fetch_one, keyset_sql
from sonet.storage.appview_timeline_tables import sort_key

__all__ = ["author_items", "followees", "pulled_authors", "pushed_items", "timeline_owner"]

_AUTHORS_PER_QUERY = 50


def timeline_owner(viewer: str) -> Steps[tuple[int | None, int | None]]:
    """``(owner id, horizon)`` of ``viewer``'s pushed timeline (None, None: it has none)."""
    row = yield from fetch_one("SELECT id, horizon FROM timeline_actor WHERE did = ?", viewer)
    if row is None:
        return None, None
    return int(row[0]), None if row[1] is None else int(row[1])


def pushed_items(owner_id: int, count: int, after: Keyset | None) -> Steps[list[FeedItemRef]]:
    """Up to ``count`` pushed items of a timeline after ``after``, newest first."""
    where: tuple[str, list[object]] = ("", [])
    if after is not None:
        key = sort_key(after.sort_at)
        where = (
            " AND t.sort_key <= ? AND (t.sort_key < ? OR f.uri < ?)",
            [key, key, after.key],
        )
    rows = yield from fetch_all(
        "SELECT f.uri, f.post_uri, f.sort_at FROM timeline_item t "
        f"JOIN feed_item f ON f.id = t.item_id WHERE t.owner_id = ?{where[0]} "
        "ORDER BY t.sort_key DESC, f.uri DESC LIMIT ?",
        owner_id,
        *where[1],
        count,
    )
    return [feed_item(r) for r in rows]


def pulled_authors(viewer: str) -> Steps[list[str]]:
    """Followees of ``viewer`` (and the viewer) whose items are not all pushed: their items are
    merged at read time."""
    rows = yield from fetch_all(
        "SELECT f.subject_did FROM follow f JOIN timeline_pulled p ON p.did = f.subject_did "
        "WHERE f.creator = ? UNION SELECT did FROM timeline_pulled WHERE did = ?",
        viewer,
        viewer,
    )
    return [str(r[0]) for r in rows]


def followees(viewer: str) -> Steps[list[str]]:
    """Everyone ``viewer`` follows, and the viewer."""
    rows = yield from fetch_all("SELECT subject_did FROM follow WHERE creator = ?", viewer)
    return list(dict.fromkeys([viewer, *(str(r[0]) for r in rows)]))


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
