"""``app.bsky.feed.defs#threadViewPost`` trees for ``getPostThread``, as the reference AppView
builds them.

Up from the anchor, ``height`` parents: a parent that is not indexed is ``#notFoundPost`` (and
ends the chain), one whose author blocks the child's author (either way) or the viewer is
``#blockedPost``; a parent outside the anchor's thread ends the chain. Down, ``depth`` levels
of replies (newest first): replies violating the thread gate, replies whose author and parent
author block each other, and replies outside the thread are left out; replies by accounts the
viewer blocks are ``#blockedPost``. A reply violating the thread gate shows neither parents nor
replies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sonet.appview.ingest.notify import uri_did
from sonet.appview.views.feeds import blocked_post, not_found_post
from sonet.appview.views.posts import post_view
from sonet.appview.views.profiles import viewer_block_exists
from sonet.appview.views.state import HydrationState

__all__ = ["thread_view"]

_THREAD = "app.bsky.feed.defs#threadViewPost"


def _root_of(state: HydrationState, uri: str) -> str:
    post = state.posts.get(uri)
    return (post.reply_root if post is not None else None) or uri


def _context(state: HydrationState, uri: str) -> dict[str, Any]:
    like = state.root_author_likes.get(uri)
    return {"rootAuthorLike": like} if like else {}


def _parent(state: HydrationState, child: str, root: str, height: int) -> dict[str, Any] | None:
    if height < 1:
        return None
    child_post = state.posts.get(child)
    parent_uri = child_post.reply_parent if child_post is not None else None
    if parent_uri is None:
        return None
    blocks = state.post_blocks.get(child)
    if blocks is not None and blocks.parent:
        return blocked_post(state, parent_uri, uri_did(parent_uri))
    post = post_view(state, parent_uri)
    if post is None:
        return not_found_post(parent_uri)
    if _root_of(state, parent_uri) != root:
        return None
    if viewer_block_exists(state, post["author"]["did"]):
        return blocked_post(state, parent_uri, post["author"]["did"])
    view: dict[str, Any] = {"$type": _THREAD, "post": post}
    grand = _parent(state, parent_uri, root, height - 1)
    if grand is not None:
        view["parent"] = grand
    view["threadContext"] = _context(state, parent_uri)
    return view


def _replies(
    state: HydrationState,
    parent: str,
    root: str,
    children: dict[str, list[str]],
    depth: int,
) -> list[dict[str, Any]] | None:
    if depth < 1:
        return None
    out: list[dict[str, Any]] = []
    for uri in children.get(parent, ()):
        row = state.posts.get(uri)
        if row is None or row.violates_thread_gate:
            continue
        blocks = state.post_blocks.get(uri)
        if blocks is not None and blocks.parent:
            continue
        post = post_view(state, uri)
        if post is None or _root_of(state, uri) != root:
            continue
        if viewer_block_exists(state, post["author"]["did"]):
            out.append(blocked_post(state, uri, post["author"]["did"]))
            continue
        view: dict[str, Any] = {"$type": _THREAD, "post": post}
        replies = _replies(state, uri, root, children, depth - 1)
        if replies is not None:
            view["replies"] = replies
        view["threadContext"] = _context(state, uri)
        out.append(view)
    return out


def thread_view(
    state: HydrationState, anchor: str, descendants: Sequence[str], height: int, depth: int
) -> dict[str, Any]:
    """The thread around ``anchor``: a ``#threadViewPost``, or ``#notFoundPost`` /
    ``#blockedPost`` for the anchor itself."""
    post = post_view(state, anchor)
    if post is None:
        return not_found_post(anchor)
    if viewer_block_exists(state, post["author"]["did"]):
        return blocked_post(state, anchor, post["author"]["did"])
    children: dict[str, list[str]] = {}
    seen = {anchor}
    for uri in descendants:
        row = state.posts.get(uri)
        if row is None or row.reply_parent is None or uri in seen:
            continue
        seen.add(uri)
        children.setdefault(row.reply_parent, []).append(uri)
    root = _root_of(state, anchor)
    view: dict[str, Any] = {"$type": _THREAD, "post": post}
    if not state.posts[anchor].violates_thread_gate:
        parent = _parent(state, anchor, root, height)
        if parent is not None:
            view["parent"] = parent
        replies = _replies(state, anchor, root, children, depth)
        if replies is not None:
            view["replies"] = replies
    view["threadContext"] = _context(state, anchor)
    return view
