"""``app.bsky.feed.defs#feedViewPost`` (post, reply context, repost or pin reason) and the
block/mute rules feeds apply to their items, as the reference AppView does.

A reply's root and parent are ``#notFoundPost`` when not visible and ``#blockedPost`` when the
viewer blocks (or is blocked by) their author, or when the reply's author and the parent's
(or root's) author block each other. A reply that violates its thread's gate shows no reply
context. Items whose repost is gone, or whose repost no longer points at the post, are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sonet.appview.ingest.notify import uri_did
from sonet.appview.views.posts import blocked_author, post_view
from sonet.appview.views.profiles import (
    profile_basic,
    viewer_block_exists,
    viewer_mute_exists,
)
from sonet.appview.views.state import HydrationState
from sonet.storage.appview_read_feeds import FeedItemRef

__all__ = [
    "BlocksAndMutes",
    "FeedItem",
    "blocked_post",
    "blocks_and_mutes",
    "feed_view_post",
    "maybe_post",
    "not_found_post",
]

_DEFS = "app.bsky.feed.defs"


@dataclass(frozen=True, slots=True)
class FeedItem:
    """What a feed shows: a post, possibly through a repost, possibly pinned."""

    post: str
    repost: str | None = None
    pinned: bool = False
    feed_context: str | None = None

    @classmethod
    def of(cls, ref: FeedItemRef) -> FeedItem:
        """The item of an indexed feed row."""
        return cls(ref.post, ref.repost)


@dataclass(frozen=True, slots=True)
class BlocksAndMutes:
    """Why the viewer might not see a feed item."""

    originator_muted: bool
    originator_repost_muted: bool
    originator_blocked: bool
    author_muted: bool
    author_quotepost_muted: bool
    author_blocked: bool
    ancestor_author_blocked: bool

    @property
    def any(self) -> bool:
        """Any block or mute at all: the item is hidden from timelines and custom feeds."""
        return any(
            (
                self.originator_muted,
                self.originator_repost_muted,
                self.originator_blocked,
                self.author_muted,
                self.author_quotepost_muted,
                self.author_blocked,
                self.ancestor_author_blocked,
            )
        )


def _is_quote(record: dict[str, Any]) -> bool:
    embed = record.get("embed")
    if not isinstance(embed, dict):
        return False
    if embed.get("$type") == "app.bsky.embed.recordWithMedia":
        embed = embed.get("record")
    ref = embed.get("record") if isinstance(embed, dict) else None
    uri = ref.get("uri") if isinstance(ref, dict) else None
    return isinstance(uri, str) and "/app.bsky.feed.post/" in uri


def blocks_and_mutes(state: HydrationState, item: FeedItem) -> BlocksAndMutes:
    """The blocks and mutes that concern ``item``."""
    author = uri_did(item.post)
    originator = uri_did(item.repost) if item.repost else author
    post = state.posts.get(item.post)
    parent_uri = post.reply_parent if post is not None else None
    parent = state.posts.get(parent_uri) if parent_uri else None
    grandparent_uri = parent.reply_parent if parent is not None else None
    rel = state.relations.get(originator)
    author_rel = state.relations.get(author)
    return BlocksAndMutes(
        originator_muted=viewer_mute_exists(state, originator),
        originator_repost_muted=bool(item.repost and rel and rel.muted_only_reposts),
        originator_blocked=viewer_block_exists(state, originator),
        author_muted=viewer_mute_exists(state, author),
        author_quotepost_muted=bool(
            post is not None
            and author_rel is not None
            and author_rel.muted_only_quoteposts
            and _is_quote(post.record)
        ),
        author_blocked=viewer_block_exists(state, author),
        ancestor_author_blocked=bool(
            (parent_uri and viewer_block_exists(state, uri_did(parent_uri)))
            or (grandparent_uri and viewer_block_exists(state, uri_did(grandparent_uri)))
        ),
    )


def not_found_post(uri: str) -> dict[str, Any]:
    """``#notFoundPost``."""
    return {"$type": f"{_DEFS}#notFoundPost", "uri": uri, "notFound": True}


def blocked_post(state: HydrationState, uri: str, author: str) -> dict[str, Any]:
    """``#blockedPost``."""
    return {
        "$type": f"{_DEFS}#blockedPost",
        "uri": uri,
        "blocked": True,
        "author": blocked_author(state, author),
    }


def maybe_post(state: HydrationState, uri: str) -> dict[str, Any]:
    """The post's view, or a not-found or blocked stand-in."""
    view = post_view(state, uri)
    if view is None:
        return not_found_post(uri)
    author = view["author"]["did"]
    if viewer_block_exists(state, author):
        return blocked_post(state, uri, author)
    return {"$type": f"{_DEFS}#postView", **view}


def _reply_ref(state: HydrationState, uri: str) -> dict[str, Any] | None:
    post = state.posts.get(uri)
    reply = post.record.get("reply") if post is not None else None
    if post is None or not isinstance(reply, dict):
        return None
    root_uri, parent_uri = post.reply_root, post.reply_parent
    if root_uri is None or parent_uri is None:
        return None
    root, parent = maybe_post(state, root_uri), maybe_post(state, parent_uri)
    blocks = state.post_blocks.get(uri)
    parent_blocks = state.post_blocks.get(parent_uri)
    if parent["$type"] == f"{_DEFS}#postView" and blocks and blocks.parent:
        parent = blocked_post(state, parent_uri, parent["author"]["did"])
    if root["$type"] == f"{_DEFS}#postView" and (
        (blocks and blocks.root) or (parent_blocks and parent_blocks.root)
    ):
        root = blocked_post(state, root_uri, root["author"]["did"])
    ref: dict[str, Any] = {"root": root, "parent": parent}
    if parent["$type"] == f"{_DEFS}#postView":
        parent_reply = parent["record"].get("reply")
        grand = parent_reply.get("parent") if isinstance(parent_reply, dict) else None
        grand_uri = grand.get("uri") if isinstance(grand, dict) else None
        if isinstance(grand_uri, str) and (author := profile_basic(state, uri_did(grand_uri))):
            ref["grandparentAuthor"] = author
    return ref


def _reason(state: HydrationState, item: FeedItem) -> dict[str, Any] | bool | None:
    """The item's reason; False when the item must be dropped."""
    if item.pinned:
        return {"$type": f"{_DEFS}#reasonPin"}
    if item.repost is None:
        return None
    repost = state.reposts.get(item.repost)
    if repost is None or repost.subject != item.post:
        return False
    by = profile_basic(state, repost.creator)
    if by is None:
        return False
    return {
        "$type": f"{_DEFS}#reasonRepost",
        "by": by,
        "uri": repost.uri,
        "cid": repost.cid,
        "indexedAt": repost.sort_at,
    }


def feed_view_post(state: HydrationState, item: FeedItem) -> dict[str, Any] | None:
    """``#feedViewPost`` of an item, or None when it cannot be shown."""
    reason = _reason(state, item)
    if reason is False:
        return None
    post = post_view(state, item.post)
    if post is None:
        return None
    view: dict[str, Any] = {"post": post}
    row = state.posts[item.post]
    if not row.violates_thread_gate and (reply := _reply_ref(state, item.post)) is not None:
        view["reply"] = reply
    if isinstance(reason, dict):
        view["reason"] = reason
    if item.feed_context is not None:
        view["feedContext"] = item.feed_context
    return view
