"""Actor rows: repo position, hosting status, verified handles and removal of a deleted account.

https://atproto.com/specs/sync#identity-and-account-events: ``#account`` carries the hosting
status; a non-active actor (``deactivated``, ``takendown``, ``suspended``) is hidden by the read
API, and a ``deleted`` one is removed from the index with everything it wrote (counts it
contributed to are decremented, so they stay exact). Handles are verified both ways before they
are stored (:mod:`sonet.identity.verify`); a handle taken by another DID is released from it.
"""

from __future__ import annotations

from sonet.appview.ingest.context import AggTable, BatchContext
from sonet.appview.ingest.fanout import remove_feed_items
from sonet.storage.appview_steps import Steps, execute, fetch_all, fetch_one

__all__ = [
    "HIDDEN_STATUSES",
    "did_uri_range",
    "note_commit",
    "remove_actor",
    "set_handle",
    "set_status",
]

HIDDEN_STATUSES = frozenset({"deactivated", "takendown", "suspended"})


def did_uri_range(did: str) -> tuple[str, str]:
    """Bounds ``[low, high)`` of every AT-URI in the repo of ``did``."""
    return f"at://{did}/", f"at://{did}0"


def note_commit(ctx: BatchContext, did: str, rev: str, commit_cid: str) -> Steps[bool]:
    """Note that the repo reached ``rev`` (written with :meth:`BatchContext.flush_revs`); False
    (skip the commit) if it already was at or past it. A DID seen for the first time gets its
    handle resolved after the batch."""
    pending = ctx.repo_revs.get(did)
    current = pending[0] if pending else None
    if current is None and did not in ctx.removed_actors:
        current = ctx.known_revs.get(did)
    if current is None:
        row = yield from fetch_one("SELECT repo_rev FROM actor WHERE did = ?", did)
        if row is None:
            ctx.resolve_handles.add(did)
        current = str(row[0] or "") if row is not None else None
    if current and rev <= current:
        return False
    ctx.repo_revs[did] = (rev, commit_cid)
    return True


def set_status(ctx: BatchContext, did: str, active: bool, status: str | None) -> Steps[None]:
    """Apply an ``#account`` event (statuses other than the hidden ones and ``deleted`` leave
    the actor visible)."""
    if not active and status == "deleted":
        yield from remove_actor(ctx, did)
        return
    hidden = status if not active and status in HIDDEN_STATUSES else None
    yield from execute(
        "INSERT INTO actor (did, indexed_at, upstream_status) VALUES (?, ?, ?) "
        "ON CONFLICT (did) DO UPDATE SET upstream_status = excluded.upstream_status",
        did,
        ctx.indexed_at,
        hidden,
    )
    ctx.actor_docs.add(did)


def set_handle(did: str, handle: str | None, indexed_at: str) -> Steps[None]:
    """Store a verified handle (None: invalid), taking it away from any other actor."""
    if handle is not None:
        handle = handle.lower()
        yield from execute(
            "UPDATE actor SET handle = NULL WHERE handle = ? AND did <> ?", handle, did
        )
    yield from execute(
        "INSERT INTO actor (did, handle, indexed_at) VALUES (?, ?, ?) "
        "ON CONFLICT (did) DO UPDATE SET handle = excluded.handle, "
        "indexed_at = excluded.indexed_at",
        did,
        handle,
        indexed_at,
    )


def _decrement(
    ctx: BatchContext, table: AggTable, column: str, query: str, *params: object
) -> Steps[None]:
    for key, n in (yield from fetch_all(query, *params)):
        if key is not None:
            ctx.bump(table, str(key), column, -int(n))


_IN_REPO = "uri >= ? AND uri < ?"


def remove_actor(ctx: BatchContext, did: str) -> Steps[None]:
    """Remove a deleted account and everything it wrote from the index."""
    low, high = did_uri_range(did)
    yield from _decrement(
        ctx,
        "profile_agg",
        "followers_count",
        f"SELECT subject_did, COUNT(*) FROM follow WHERE {_IN_REPO} GROUP BY subject_did",
        low,
        high,
    )
    for table, column in (("like", "like_count"), ("repost", "repost_count")):
        yield from _decrement(
            ctx,
            "post_agg",
            column,
            f'SELECT subject, COUNT(*) FROM "{table}" WHERE {_IN_REPO} GROUP BY subject',
            low,
            high,
        )
    yield from _decrement(
        ctx,
        "post_agg",
        "reply_count",
        f"SELECT reply_parent, COUNT(*) FROM post WHERE {_IN_REPO} "
        "AND reply_parent IS NOT NULL AND violates_thread_gate = ? GROUP BY reply_parent",
        low,
        high,
        False,
    )
    yield from _decrement(
        ctx,
        "post_agg",
        "quote_count",
        f"SELECT subject, COUNT(*) FROM quote WHERE {_IN_REPO} GROUP BY subject",
        low,
        high,
    )
    yield from remove_feed_items("originator_did", did)
    yield from execute("DELETE FROM timeline_item WHERE owner_did = ?", did)
    posts = yield from fetch_all(f"SELECT uri FROM post WHERE {_IN_REPO}", low, high)
    for (uri,) in posts:
        ctx.post_docs[str(uri)] = None
    for table, column in (("post_facet", "post_uri"), ("notification", "record_uri")):
        yield from execute(
            f"DELETE FROM {table} WHERE {column} >= ? AND {column} < ?",
            low,
            high,
        )
    for table in (
        "profile",
        "follow",
        "actor_block",
        "like",
        "repost",
        "post",
        "quote",
        "thread_gate",
        "post_gate",
        "feed_generator",
        "list",
        "list_item",
        "list_block",
        "starter_pack",
        "record",
        "duplicate_record",
    ):
        yield from execute(f'DELETE FROM "{table}" WHERE {_IN_REPO}', low, high)
    yield from execute(
        "DELETE FROM duplicate_record WHERE duplicate_of >= ? AND duplicate_of < ?", low, high
    )
    yield from execute("DELETE FROM notification WHERE did = ?", did)
    yield from execute(
        "UPDATE profile_agg SET follows_count = 0, posts_count = 0 WHERE did = ?", did
    )
    for column in ("follows_count", "posts_count"):
        ctx.deltas.pop(("profile_agg", did, column), None)
    yield from execute("DELETE FROM actor WHERE did = ?", did)
    ctx.repo_revs.pop(did, None)
    ctx.removed_actors.add(did)
    ctx.actor_docs.add(did)
