"""Feed items and the write side of hybrid timeline fan-out.

Every post and repost becomes a ``feed_item`` of its author. When the author has fewer followers
than ``IndexConfig.fanout_threshold``, the item is also pushed into the ``timeline_item`` rows of
each follower and of the author; items of more-followed authors are merged in when a timeline
is read. A new follow copies the followee's recent items into the follower's timeline (when the
followee is below the threshold) and an unfollow removes them.
"""

from __future__ import annotations

from sonet.appview.ingest.context import BatchContext
from sonet.storage.appview_steps import Steps, execute, fetch_all

__all__ = ["add_feed_item", "follow_timeline", "remove_feed_items", "unfollow_timeline"]


def _pushes(ctx: BatchContext, author: str) -> Steps[bool]:
    threshold = ctx.config.fanout_threshold
    if threshold <= 0:
        return False
    followers = yield from ctx.count("profile_agg", author, "followers_count")
    return followers < threshold


def add_feed_item(
    ctx: BatchContext, uri: str, cid: str, kind: str, post_uri: str, author: str, sort_at: str
) -> Steps[None]:
    """Record a post or repost in its author's feed and push it to timelines."""
    added = yield from execute(
        'INSERT INTO feed_item (uri, cid, "type", post_uri, originator_did, sort_at) '
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (uri) DO NOTHING",
        uri,
        cid,
        kind,
        post_uri,
        author,
        sort_at,
    )
    if not added or not (yield from _pushes(ctx, author)):
        return
    pushed = yield from execute(
        "INSERT INTO timeline_item (owner_did, sort_at, uri) "
        "SELECT owner, ?, ? FROM (SELECT creator AS owner FROM follow WHERE subject_did = ? "
        "UNION ALL SELECT ?) AS owners WHERE true ON CONFLICT DO NOTHING",
        sort_at,
        uri,
        author,
        author,
    )
    ctx.stats["timeline_rows"] += pushed


def remove_feed_items(where: str, value: str) -> Steps[None]:
    """Remove feed items (``where`` is ``uri`` or ``post_uri``) and their timeline copies."""
    items = yield from fetch_all(
        f"SELECT uri FROM feed_item WHERE {where} = ?",
        value,
    )
    for (uri,) in items:
        yield from execute("DELETE FROM timeline_item WHERE uri = ?", uri)
        yield from execute("DELETE FROM feed_item WHERE uri = ?", uri)


def follow_timeline(ctx: BatchContext, follower: str, followee: str) -> Steps[None]:
    """Copy the followee's recent items into the follower's timeline."""
    if ctx.config.timeline_backfill <= 0 or not (yield from _pushes(ctx, followee)):
        return
    yield from execute(
        "INSERT INTO timeline_item (owner_did, sort_at, uri) "
        "SELECT ?, sort_at, uri FROM feed_item WHERE originator_did = ? "
        "ORDER BY sort_at DESC LIMIT ? ON CONFLICT DO NOTHING",
        follower,
        followee,
        ctx.config.timeline_backfill,
    )


def unfollow_timeline(follower: str, followee: str) -> Steps[None]:
    """Remove the followee's items from the follower's timeline."""
    if follower == followee:
        return
    yield from execute(
        "DELETE FROM timeline_item WHERE owner_did = ? AND uri IN "
        "(SELECT uri FROM feed_item WHERE originator_did = ?)",
        follower,
        followee,
    )
