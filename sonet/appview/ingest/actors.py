"""Actor rows: repo position, hosting status, verified handles and removal of a deleted account.

https://atproto.com/specs/sync#identity-and-account-events: ``#account`` carries the hosting
status; a non-active actor (``deactivated``, ``takendown``, ``suspended``) is hidden by the read
API, and a ``deleted`` one is removed from the index with everything it wrote (counts it
contributed to are decremented, so they stay exact). Handles are verified both ways before they
are stored (:mod:`sonet.identity.verify`); a handle taken by another DID is released from it.
"""

from __future__ import annotations

from sonet.appview.ingest.context import BatchContext
from sonet.appview.ingest.fanout import remove_feed_items, remove_timeline_owner
from sonet.storage.appview_index_actors import (
    delete_repo_rows,
    repo_contributions,
    repo_rev,
    set_upstream_status,
    store_handle,
)
from sonet.storage.appview_steps import Steps

__all__ = [
    "HIDDEN_STATUSES",
    "note_commit",
    "remove_actor",
    "set_handle",
    "set_status",
]

HIDDEN_STATUSES = frozenset({"deactivated", "takendown", "suspended"})


def note_commit(ctx: BatchContext, did: str, rev: str, commit_cid: str) -> Steps[bool]:
    """Note that the repo reached ``rev`` (written with :meth:`BatchContext.flush_revs`); False
    (skip the commit) if it already was at or past it. A DID seen for the first time gets its
    handle resolved after the batch."""
    pending = ctx.repo_revs.get(did)
    current = pending[0] if pending else None
    if current is None and did not in ctx.removed_actors:
        current = ctx.known_revs.get(did)
    if current is None:
        row = yield from repo_rev(did)
        if row is None:
            ctx.resolve_handles.add(did)
        current = (row[0] or "") if row is not None else None
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
    yield from set_upstream_status(did, ctx.indexed_at, hidden)
    ctx.actor_docs.add(did)


def set_handle(did: str, handle: str | None, indexed_at: str) -> Steps[None]:
    """Store a verified handle (None: invalid), taking it away from any other actor."""
    yield from store_handle(did, None if handle is None else handle.lower(), indexed_at)


def remove_actor(ctx: BatchContext, did: str) -> Steps[None]:
    """Remove a deleted account and everything it wrote from the index."""
    for table, column, key, n in (yield from repo_contributions(did)):
        ctx.bump(table, key, column, -n)
    yield from remove_feed_items("originator_did", did)
    yield from remove_timeline_owner(did)
    for uri in (yield from delete_repo_rows(did)):
        ctx.post_docs[uri] = None
    for column in ("follows_count", "posts_count"):
        ctx.deltas.pop(("profile_agg", did, column), None)
    ctx.repo_revs.pop(did, None)
    ctx.removed_actors.add(did)
    ctx.actor_docs.add(did)
