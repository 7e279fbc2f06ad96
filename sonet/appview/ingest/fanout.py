"""Feed items and the write side of hybrid timeline fan-out.

Every post and repost becomes a ``feed_item`` of its author. When the author has fewer followers
than ``IndexConfig.fanout_threshold``, the item is also pushed into the timelines of each
follower and of the author (integer rows: :mod:`sonet.storage.appview_timeline_tables`);
otherwise the author is marked *pulled* and readers merge its feed items in, from then on (so
an author who falls back below the threshold loses nothing that was never pushed). A new follow
copies the followee's recent items (``IndexConfig.timeline_backfill``) into the follower's
timeline, unless the followee is pulled, and an unfollow removes them.

Timelines keep about ``IndexConfig.timeline_length`` rows: after roughly a quarter of that many
pushes (a deterministic sample of the rows pushed to it) a timeline's older rows are deleted
and its *horizon* raised over them; readers pull the items of every followee below it. Actors'
timeline ids are remembered across batches (:attr:`BatchContext.known_timeline_ids`).
"""

from __future__ import annotations

from sonet.appview.ingest.context import BatchContext
from sonet.storage.appview_index_timeline import (
    actor_id,
    add_follow_edge,
    author_and_followers,
    delete_feed_item,
    feed_items_by,
    followers,
    insert_feed_item,
    is_pulled,
    mark_pulled,
    push_rows,
    recent_items,
    remove_author_items,
    remove_copies,
    remove_follow_edge,
    remove_owner,
    trim_timeline,
)
from sonet.storage.appview_steps import Steps
from sonet.storage.appview_timeline_tables import sort_key

__all__ = [
    "add_feed_item",
    "follow_timeline",
    "remove_feed_items",
    "remove_timeline_owner",
    "unfollow_timeline",
]

_SPREAD = 0x9E3779B1
"""Multiplier that spreads item ids over the trim sample."""


def _timeline_id(ctx: BatchContext, did: str) -> Steps[int]:
    """The timeline id of ``did`` (given one if it has none), remembered across batches."""
    found = ctx.timeline_ids.get(did) or ctx.known_timeline_ids.get(did)
    if found is None:
        found = yield from actor_id(did)
        assert found is not None
        ctx.timeline_ids[did] = found
    return found


def _push(ctx: BatchContext, rows: list[tuple[int, int, int]]) -> Steps[None]:
    """Insert ``(owner, sort_key, item)`` rows, then trim the timelines due a check: every
    ``timeline_length / 4``-th row from an offset hashed from the first row's item (so each
    row makes its owner due with that probability, without state)."""
    rows.sort()
    yield from push_rows(rows)
    ctx.stats["timeline_rows"] += len(rows)
    length = ctx.config.timeline_length
    if length <= 0:
        return
    every = max(1, length // 4)
    for due in range(rows[0][2] * _SPREAD % every, len(rows), every):
        if (yield from trim_timeline(rows[due][0], length)):
            ctx.stats["timeline_trims"] += 1


def add_feed_item(
    ctx: BatchContext, uri: str, cid: str, kind: str, post_uri: str, author: str, sort_at: str
) -> Steps[None]:
    """Record a post or repost in its author's feed and push it to timelines."""
    item = yield from insert_feed_item(uri, cid, kind, post_uri, author, sort_at)
    if item is None:
        return
    threshold = ctx.config.fanout_threshold
    if threshold > 0:
        author_id = ctx.timeline_ids.get(author) or ctx.known_timeline_ids.get(author)
        if author_id is None:
            author_id, fans = yield from author_and_followers(author, threshold)
            ctx.timeline_ids[author] = author_id
        else:
            fans = yield from followers(author_id, threshold)
        if len(fans) < threshold:
            key = sort_key(sort_at)
            rows = [(f, key, item) for f in fans]
            rows.append((author_id, key, item))
            yield from _push(ctx, rows)
            return
    yield from mark_pulled(author)


def remove_feed_items(where: str, value: str) -> Steps[None]:
    """Remove feed items (``where`` is ``uri``, ``post_uri`` or ``originator_did``) and their
    timeline copies."""
    ids: dict[str, int | None] = {}
    for item, author, sort_at in (yield from feed_items_by(where, value)):
        if author not in ids:
            ids[author] = yield from actor_id(author, create=False)
        author_id = ids[author]
        if author_id is not None:
            yield from remove_copies(author_id, sort_key(sort_at), item)
        yield from delete_feed_item(item)


def follow_timeline(ctx: BatchContext, follower: str, followee: str) -> Steps[None]:
    """Record the follow and copy the followee's recent items into the follower's timeline
    (unless readers pull them: its items are not all pushed)."""
    follower_id = yield from _timeline_id(ctx, follower)
    followee_id = yield from _timeline_id(ctx, followee)
    yield from add_follow_edge(followee_id, follower_id)
    config = ctx.config
    if config.timeline_backfill <= 0 or config.fanout_threshold <= 0:
        return
    recent = yield from recent_items(followee, config.timeline_backfill)
    if recent and not (yield from is_pulled(followee)):
        yield from _push(ctx, [(follower_id, sort_key(s), item) for item, s in recent])


def unfollow_timeline(ctx: BatchContext, follower: str, followee: str) -> Steps[None]:
    """Forget the follow and remove the followee's items from the follower's timeline."""
    follower_id = yield from _timeline_id(ctx, follower)
    followee_id = yield from _timeline_id(ctx, followee)
    yield from remove_follow_edge(followee_id, follower_id)
    if follower != followee:
        yield from remove_author_items(follower_id, followee)


def remove_timeline_owner(did: str) -> Steps[None]:
    """Empty a deleted account's timeline and drop its follows from the graph (before its
    ``follow`` rows go)."""
    yield from remove_owner(did)
