"""AppView index writes of feed items and pushed home timelines (hybrid fan-out).

Tables in :mod:`sonet.storage.appview_timeline_tables`; the policy (who is pushed what, when
timelines are trimmed) is :mod:`sonet.appview.ingest.fanout`'s. Timeline rows are written in
bulk (``executemany``, sorted by key) and found again through the author's followers (an
item's copies are in its author's and followers' timelines only, since an unfollow removes
the followee's items).
"""

from __future__ import annotations

from collections.abc import Sequence

from sonet.storage.appview_steps import Steps, execute, execute_many, fetch_all, fetch_one

__all__ = [
    "FeedItemRow",
    "actor_id",
    "add_follow_edge",
    "author_and_followers",
    "delete_feed_item",
    "feed_items_by",
    "followers",
    "insert_feed_item",
    "is_pulled",
    "mark_pulled",
    "push_rows",
    "recent_items",
    "remove_author_items",
    "remove_copies",
    "remove_follow_edge",
    "remove_owner",
    "trim_timeline",
]

FeedItemRow = tuple[int, str, str]
"""``(id, originator_did, sort_at)`` of a feed item."""


def insert_feed_item(
    uri: str, cid: str, kind: str, post_uri: str, originator: str, sort_at: str
) -> Steps[int | None]:
    """Add a feed item; its id, or None if it was already there."""
    row = yield from fetch_one(
        'INSERT INTO feed_item (uri, cid, "type", post_uri, originator_did, sort_at) '
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (uri) DO NOTHING RETURNING id",
        uri,
        cid,
        kind,
        post_uri,
        originator,
        sort_at,
    )
    return None if row is None else int(row[0])


def feed_items_by(column: str, value: str) -> Steps[list[FeedItemRow]]:
    """Feed items whose ``column`` (``uri``, ``post_uri`` or ``originator_did``) is ``value``;
    those of a post are the post itself and its indexed reposts (found through ``repost``)."""
    if column == "post_uri":
        rows = yield from fetch_all(
            "SELECT id, originator_did, sort_at FROM feed_item WHERE uri = ? UNION ALL "
            "SELECT f.id, f.originator_did, f.sort_at FROM repost r "
            "JOIN feed_item f ON f.uri = r.uri WHERE r.subject = ?",
            value,
            value,
        )
    else:
        assert column in ("uri", "originator_did")
        rows = yield from fetch_all(
            f"SELECT id, originator_did, sort_at FROM feed_item WHERE {column} = ?", value
        )
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def delete_feed_item(item_id: int) -> Steps[None]:
    """Remove a feed item (its timeline copies are removed with :func:`remove_copies`)."""
    yield from execute("DELETE FROM feed_item WHERE id = ?", item_id)


def recent_items(originator: str, limit: int) -> Steps[list[tuple[int, str]]]:
    """``(id, sort_at)`` of an author's ``limit`` newest feed items."""
    rows = yield from fetch_all(
        "SELECT id, sort_at FROM feed_item WHERE originator_did = ? "
        "ORDER BY sort_at DESC, uri DESC LIMIT ?",
        originator,
        limit,
    )
    return [(int(r[0]), str(r[1])) for r in rows]


def actor_id(did: str, create: bool = True) -> Steps[int | None]:
    """The timeline id of ``did``, given one first if ``create`` (else None when it has none)."""
    row = yield from fetch_one("SELECT id FROM timeline_actor WHERE did = ?", did)
    if row is None and create:
        row = yield from fetch_one(
            "INSERT INTO timeline_actor (did) VALUES (?) ON CONFLICT (did) DO NOTHING RETURNING id",
            did,
        )
        if row is None:  # PostgreSQL: a concurrent transaction has just added it
            row = yield from fetch_one("SELECT id FROM timeline_actor WHERE did = ?", did)
    return None if row is None else int(row[0])


def add_follow_edge(subject_id: int, follower_id: int) -> Steps[None]:
    """Record that ``follower_id`` follows ``subject_id``."""
    yield from execute(
        "INSERT INTO timeline_follow (subject_id, follower_id) VALUES (?, ?) "
        "ON CONFLICT DO NOTHING",
        subject_id,
        follower_id,
    )


def remove_follow_edge(subject_id: int, follower_id: int) -> Steps[None]:
    """Forget that ``follower_id`` follows ``subject_id``."""
    yield from execute(
        "DELETE FROM timeline_follow WHERE subject_id = ? AND follower_id = ?",
        subject_id,
        follower_id,
    )


def author_and_followers(did: str, limit: int) -> Steps[tuple[int, list[int]]]:
    """The timeline id of ``did`` (given one if it has none) and up to ``limit`` of its
    followers' ids, in one statement."""
    rows = yield from fetch_all(
        "SELECT a.id, f.follower_id FROM timeline_actor a "
        "LEFT JOIN timeline_follow f ON f.subject_id = a.id WHERE a.did = ? LIMIT ?",
        did,
        max(1, limit),
    )
    if not rows:
        created = yield from actor_id(did)
        assert created is not None
        return created, []
    return int(rows[0][0]), [int(r[1]) for r in rows if r[1] is not None]


def followers(subject_id: int, limit: int) -> Steps[list[int]]:
    """Ids of up to ``limit`` followers of ``subject_id``."""
    rows = yield from fetch_all(
        "SELECT follower_id FROM timeline_follow WHERE subject_id = ? LIMIT ?", subject_id, limit
    )
    return [r[0] for r in rows]


def push_rows(rows: Sequence[tuple[int, int, int]]) -> Steps[None]:
    """Insert ``(owner_id, sort_key, item_id)`` timeline rows (existing ones are kept)."""
    yield from execute_many(
        "INSERT INTO timeline_item (owner_id, sort_key, item_id) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        rows,
    )


def remove_copies(author_id: int, sort_key: int, item_id: int) -> Steps[None]:
    """Remove an item of ``author_id`` from every timeline (its author's and followers')."""
    yield from execute(
        "DELETE FROM timeline_item WHERE owner_id IN (SELECT follower_id FROM timeline_follow "
        "WHERE subject_id = ? UNION ALL SELECT ?) AND sort_key = ? AND item_id = ?",
        author_id,
        author_id,
        sort_key,
        item_id,
    )


def remove_author_items(owner_id: int, originator: str) -> Steps[None]:
    """Remove every item of ``originator`` from ``owner_id``'s timeline."""
    yield from execute(
        "DELETE FROM timeline_item WHERE owner_id = ? AND item_id IN (SELECT t.item_id "
        "FROM timeline_item t JOIN feed_item f ON f.id = t.item_id "
        "WHERE t.owner_id = ? AND f.originator_did = ?)",
        owner_id,
        owner_id,
        originator,
    )


def trim_timeline(owner_id: int, keep: int) -> Steps[bool]:
    """Keep the ``keep`` newest rows of a timeline and raise its horizon over the rest; True
    if rows were removed."""
    row = yield from fetch_one(
        "SELECT sort_key, item_id FROM timeline_item WHERE owner_id = ? "
        "ORDER BY sort_key DESC, item_id DESC LIMIT 1 OFFSET ?",
        owner_id,
        keep,
    )
    if row is None:
        return False
    key, item = int(row[0]), int(row[1])
    yield from execute(
        "DELETE FROM timeline_item WHERE owner_id = ? AND (sort_key, item_id) <= (?, ?)",
        owner_id,
        key,
        item,
    )
    yield from execute(
        "UPDATE timeline_actor SET horizon = ? WHERE id = ? AND (horizon IS NULL OR horizon < ?)",
        key,
        owner_id,
        key,
    )
    return True


def is_pulled(did: str) -> Steps[bool]:
    """Whether some item of ``did`` was not pushed."""
    row = yield from fetch_one("SELECT 1 FROM timeline_pulled WHERE did = ?", did)
    return row is not None


def mark_pulled(did: str) -> Steps[None]:
    """Note that an item of ``did`` was not pushed (readers pull its items)."""
    yield from execute("INSERT INTO timeline_pulled (did) VALUES (?) ON CONFLICT DO NOTHING", did)


def remove_owner(did: str) -> Steps[None]:
    """Empty the timeline of a removed account and forget whom it follows (call before its
    ``follow`` rows are deleted)."""
    owner = yield from actor_id(did, create=False)
    if owner is None:
        return
    yield from execute("DELETE FROM timeline_item WHERE owner_id = ?", owner)
    yield from execute(
        "DELETE FROM timeline_follow WHERE follower_id = ? AND subject_id IN "
        "(SELECT a.id FROM follow f JOIN timeline_actor a ON a.did = f.subject_did "
        "WHERE f.creator = ?)",
        owner,
        did,
    )
    yield from execute("UPDATE timeline_actor SET horizon = NULL WHERE id = ?", owner)
