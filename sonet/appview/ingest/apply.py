"""Applying a batch of index events inside one transaction.

Events are applied in order; a commit whose rev the repo already reached is skipped (replays are
no-ops); operations on collections the AppView does not index are ignored, and records an indexer
refuses are skipped and counted. A repository snapshot brings the index to exactly its records.
Counts are written at the end, then the firehose cursor, in the same transaction, so a crash
never leaves the index and the cursor apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from sonet.appview.ingest.actors import note_commit, set_status
from sonet.appview.ingest.context import BatchContext
from sonet.appview.ingest.errors import InvalidRecordError
from sonet.appview.ingest.events import (
    AccountChange,
    CommitItem,
    IdentityChange,
    IndexEvent,
    RecordDelete,
    RecordWrite,
    RepoSnapshot,
)
from sonet.appview.ingest.gates import PostgateIndexer, ThreadgateIndexer
from sonet.appview.ingest.graph import (
    BlockIndexer,
    FollowIndexer,
    ListBlockIndexer,
    ListIndexer,
    ListItemIndexer,
    StarterPackIndexer,
)
from sonet.appview.ingest.like_repost import LikeIndexer, RepostIndexer
from sonet.appview.ingest.posts import PostIndexer
from sonet.appview.ingest.processor import (
    RecordIndexer,
    delete_record,
    insert_record,
    update_record,
)
from sonet.appview.ingest.profiles import FeedGeneratorIndexer, ProfileIndexer
from sonet.appview.ingest.times import normalize_time
from sonet.storage.appview_index_records import repo_record_cids
from sonet.storage.appview_index_state import save_cursor
from sonet.storage.appview_steps import Steps

__all__ = ["INDEXERS", "apply_events", "apply_op"]

INDEXERS: dict[str, RecordIndexer] = {
    ix.collection: ix
    for ix in (
        ProfileIndexer(),
        PostIndexer(),
        LikeIndexer(),
        RepostIndexer(),
        ThreadgateIndexer(),
        PostgateIndexer(),
        FeedGeneratorIndexer(),
        FollowIndexer(),
        BlockIndexer(),
        ListIndexer(),
        ListItemIndexer(),
        ListBlockIndexer(),
        StarterPackIndexer(),
    )
}


def apply_op(ctx: BatchContext, op: RecordWrite | RecordDelete) -> Steps[None]:
    """Apply one record operation."""
    ix = INDEXERS.get(op.collection)
    if ix is None:
        return
    if isinstance(op, RecordDelete):
        yield from delete_record(ctx, ix, op.uri)
        ctx.stats["deletes"] += 1
        return
    try:
        ix.check(op)
    except InvalidRecordError:
        ctx.stats["invalid_records"] += 1
        return
    if op.action == "create":
        yield from insert_record(ctx, ix, op)
    else:
        yield from update_record(ctx, ix, op)
    ctx.stats["writes"] += 1


def _apply_commit(ctx: BatchContext, item: CommitItem) -> Steps[None]:
    if not (yield from note_commit(ctx, item.did, item.rev, item.commit_cid)):
        ctx.stats["stale_commits"] += 1
        return
    for op in item.ops:
        yield from apply_op(ctx, op)


def _apply_snapshot(ctx: BatchContext, snap: RepoSnapshot) -> Steps[None]:
    if not (yield from note_commit(ctx, snap.did, snap.rev, snap.commit_cid)):
        ctx.stats["stale_commits"] += 1
        return
    current = yield from repo_record_cids(snap.did)
    for uri, write in snap.records.items():
        known = current.get(uri)
        if known == write.cid:
            continue
        action: Literal["create", "update"] = "create" if known is None else "update"
        yield from apply_op(ctx, replace(write, action=action))
    for uri in current.keys() - snap.records.keys():
        did, collection, rkey = uri[5:].split("/", 2)
        yield from apply_op(ctx, RecordDelete(did, collection, rkey))


def apply_events(
    ctx: BatchContext, events: Sequence[IndexEvent], now: str, cursor: tuple[str, int] | None
) -> Steps[None]:
    """Apply ``events`` in order, then the counts and the cursor ``(source, seq)``."""
    for event in events:
        ctx.indexed_at = now
        if isinstance(event, CommitItem | RepoSnapshot):
            ctx.indexed_at = min(normalize_time(event.time, now), now)
        if isinstance(event, CommitItem):
            yield from _apply_commit(ctx, event)
        elif isinstance(event, RepoSnapshot):
            yield from _apply_snapshot(ctx, event)
        elif isinstance(event, IdentityChange):
            ctx.resolve_handles.add(event.did)
        elif isinstance(event, AccountChange):
            yield from set_status(ctx, event.did, event.active, event.status)
        ctx.stats["events"] += 1
    yield from ctx.flush_revs()
    yield from ctx.flush_counts()
    if cursor is not None:
        yield from save_cursor(cursor[0], cursor[1], now)
