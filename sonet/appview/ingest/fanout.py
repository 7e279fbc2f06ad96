"""Feed items and the write side of hybrid timeline fan-out.

Every post and repost becomes a ``feed_item`` of its author. When the author has fewer followers
than ``IndexConfig.fanout_threshold``, the item is also pushed into the timelines of each
follower and of the author (integer rows: :mod:`sonet.storage.appview_timeline_tables`);
otherwise the author is marked *pulled* and readers merge its feed items in, from then on (so
an author who falls back below the threshold loses nothing that was never pushed). A new follow
copies the followee's recent items into the follower's timeline (when the followee is below
the threshold) and an unfollow removes them.

Timelines keep about ``IndexConfig.timeline_length`` rows: after roughly a quarter of that many
pushes (a deterministic sample of the rows pushed to it) a timeline's older rows are deleted
and its *horizon* raised over them; readers pull the items of every followee below it.
"""

from __future__ import annotations

from sonet.appview.ingest.context import BatchContext
from sonet.storage.appview_index_timeline import (
    actor_id,
    add_follow_edge,
    author_and_followers,
    delete_feed_item,
    feed_items_by,
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
"""Multiplier that spreads owner ids over the trim sample."""


def _trim_due(ctx: BatchContext, rows: list[tuple[int, int, int]]) -> list[int]:
    """Owners of ``rows`` whose timelines are due a trim check (about one row in a quarter of
    ``timeline_length``, chosen by hashing the row so that it needs no state)."""
    length = ctx.config.timeline_length
    if length <= 0:
        return []
    every = max(1, length // 4)
    return [owner for owner, _, item in rows if ((owner * _SPREAD) ^ item) % every == 0]


def _push(ctx: BatchContext, rows: list[tuple[int, int, int]]) -> Steps[None]:
    rows.sort()
    yield from push_rows(rows)
    ctx.stats["timeline_rows"] += len(rows)
    for owner in _trim_due(ctx, rows):
        if (yield from trim_timeline(owner, ctx.config.timeline_length)):
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
        author_id, fans = yield from author_and_followers(author, threshold)
        if len(fans) < threshold:
            key = sort_key(sort_at)
            yield from _push(ctx, [(author_id, key, item), *((f, key, item) for f in fans)])
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
    follower_id = yield from actor_id(follower)
    followee_id = yield from actor_id(followee)
    assert follower_id is not None and followee_id is not None
    yield from add_follow_edge(followee_id, follower_id)
    config = ctx.config
    if config.timeline_backfill <= 0 or config.fanout_threshold <= 0:
        return
    if (yield from is_pulled(followee)):
        return
    recent = yield from recent_items(followee, config.timeline_backfill)
    yield from _push(ctx, [(follower_id, sort_key(s), item) for item, s in recent])


def unfollow_timeline(follower: str, followee: str) -> Steps[None]:
    """Forget the follow and remove the followee's items from the follower's timeline."""
    follower_id = yield from actor_id(follower, create=False)
    followee_id = yield from actor_id(followee, create=False)
    if follower_id is None or followee_id is None:
        return
    yield from remove_follow_edge(followee_id, follower_id)
    if follower != followee:
        yield from remove_author_items(follower_id, followee)


def remove_timeline_owner(did: str) -> Steps[None]:
    """Empty a deleted account's timeline and drop its follows from the graph (before its
    ``follow`` rows go)."""
    yield from remove_owner(did)
