"""``app.bsky.feed.defs#postView`` with its embeds, viewer state and threadgate, as the
reference AppView builds it (https://atproto.com/lexicons/app-bsky-feed#appbskyfeeddefs).

Embeds nest two levels: a post's embedded record shows its own embed, which shows none. A
record embed is ``#viewBlocked`` when the viewer and the embedded author block each other or
the quoting and quoted authors do, ``#viewDetached`` when the quoted post's postgate refuses or
detached the quote, ``#viewNotFound`` when it is not indexed or not visible.
"""

from __future__ import annotations

from typing import Any

from sonet.appview.ingest.notify import uri_did
from sonet.appview.views.graph import generator_view, list_view
from sonet.appview.views.labels import self_labels
from sonet.appview.views.lists import list_basic
from sonet.appview.views.media import media_view
from sonet.appview.views.profiles import (
    blocked_profile_viewer,
    pinned_post,
    profile_basic,
    starter_pack_basic,
    viewer_block_exists,
)
from sonet.appview.views.state import HydrationState

__all__ = [
    "THREADGATE",
    "blocked_author",
    "embedding_disabled",
    "post_view",
    "reply_disabled",
    "threadgate_view",
]

THREADGATE = "app.bsky.feed.threadgate"
_RULE = "app.bsky.feed.threadgate#"
_RECORD = "app.bsky.embed.record"
_RECORD_WITH_MEDIA = "app.bsky.embed.recordWithMedia"
_MAX_EMBED_DEPTH = 2


def _collection(uri: str) -> str:
    parts = uri[5:].split("/")
    return parts[1] if uri.startswith("at://") and len(parts) > 2 else ""


def blocked_author(state: HydrationState, did: str) -> dict[str, Any]:
    """``#blockedAuthor`` of ``did``."""
    author: dict[str, Any] = {"did": did}
    viewer = blocked_profile_viewer(state, did)
    if viewer is not None:
        author["viewer"] = viewer
    return author


def threadgate_view(state: HydrationState, post_uri: str) -> dict[str, Any] | None:
    """``#threadgateView`` of the gate of root post ``post_uri``, if it has one."""
    gate = state.threadgates.get(post_uri)
    if gate is None:
        return None
    lists = []
    for rule in gate.record.get("allow") or ():
        if isinstance(rule, dict) and rule.get("$type") == _RULE + "listRule":
            view = list_basic(state, str(rule.get("list")))
            if view is not None:
                lists.append(view)
    return {"uri": gate.uri, "cid": gate.cid, "record": gate.record, "lists": lists}


def _mentioned(record: dict[str, Any], did: str) -> bool:
    for facet in record.get("facets") or ():
        for feature in facet.get("features") or () if isinstance(facet, dict) else ():
            if (
                isinstance(feature, dict)
                and feature.get("$type") == "app.bsky.richtext.facet#mention"
                and feature.get("did") == did
            ):
                return True
    return False


def reply_disabled(state: HydrationState, uri: str) -> bool | None:
    """Whether the viewer may not reply to the post (None when no gate or no viewer)."""
    post = state.posts.get(uri)
    if post is not None and post.violates_thread_gate:
        return True
    root = (post.reply_root if post is not None else None) or uri
    gate = state.threadgates.get(root)
    viewer = state.viewer
    if gate is None or viewer is None:
        return None
    owner = uri_did(root)
    allow = gate.record.get("allow")
    if viewer == owner or not isinstance(allow, list):
        return False
    kinds = {str(r.get("$type", "")) for r in allow if isinstance(r, dict)}
    root_post = state.posts.get(root)
    if _RULE + "mentionRule" in kinds and root_post and _mentioned(root_post.record, viewer):
        return False
    rel = state.relations.get(owner)
    if _RULE + "followerRule" in kinds and rel is not None and rel.following:
        return False
    if _RULE + "followingRule" in kinds and rel is not None and rel.followed_by:
        return False
    for rule in allow:
        if isinstance(rule, dict) and rule.get("$type") == _RULE + "listRule":
            member = state.list_viewers.get(str(rule.get("list")))
            if member is not None and member.member:
                return False
    return True


def embedding_disabled(state: HydrationState, uri: str) -> bool:
    """Whether the post's postgate forbids the viewer to quote it."""
    if uri not in state.posts:
        return True
    author = uri_did(uri)
    gate = state.postgates.get(uri)
    if state.viewer == author or gate is None:
        return False
    rules = gate.record.get("embeddingRules")
    return isinstance(rules, list) and any(
        isinstance(r, dict) and r.get("$type") == "app.bsky.feed.postgate#disableRule"
        for r in rules
    )


def _viewer(state: HydrationState, uri: str, author: str) -> dict[str, Any] | None:
    pv = state.post_viewers.get(uri)
    if pv is None:
        return None
    view: dict[str, Any] = {"threadMuted": pv.thread_muted}
    if pv.repost:
        view["repost"] = pv.repost
    if pv.like:
        view["like"] = pv.like
    disabled = reply_disabled(state, uri)
    if disabled is not None:
        view["replyDisabled"] = disabled
    view["embeddingDisabled"] = embedding_disabled(state, uri)
    actor = state.actors.get(author)
    if state.viewer == author and actor is not None and (pinned := pinned_post(actor)):
        view["pinned"] = pinned["uri"] == uri
    return view


def post_view(state: HydrationState, uri: str, depth: int = 0) -> dict[str, Any] | None:
    """``#postView`` of a hydrated post by a visible author, or None (built once per state;
    do not modify it)."""
    key = ("post", uri, depth)
    if key not in state.views:
        state.views[key] = _post_view(state, uri, depth)
    view: dict[str, Any] | None = state.views[key]
    return view


def _post_view(state: HydrationState, uri: str, depth: int) -> dict[str, Any] | None:
    post = state.posts.get(uri)
    if post is None:
        return None
    author = profile_basic(state, post.creator)
    if author is None:
        return None
    agg = state.post_aggs.get(uri)
    view: dict[str, Any] = {
        "uri": uri,
        "cid": post.cid,
        "author": author,
        "record": post.record,
    }
    embed = post.record.get("embed")
    if depth < _MAX_EMBED_DEPTH and embed is not None:
        embed_view = _embed(state, uri, embed, depth + 1)
        if embed_view is not None:
            view["embed"] = embed_view
    view.update(
        bookmarkCount=0,
        replyCount=agg.replies if agg else 0,
        repostCount=agg.reposts if agg else 0,
        likeCount=agg.likes if agg else 0,
        quoteCount=agg.quotes if agg else 0,
        indexedAt=post.sort_at,
    )
    viewer = _viewer(state, uri, post.creator)
    if viewer is not None:
        view["viewer"] = viewer
    view["labels"] = self_labels(uri, post.cid, post.record)
    if "reply" not in post.record and (gate := threadgate_view(state, uri)) is not None:
        view["threadgate"] = gate
    return view


def _embed(state: HydrationState, post_uri: str, embed: Any, depth: int) -> dict[str, Any] | None:
    if not isinstance(embed, dict):
        return None
    kind = embed.get("$type")
    if kind == _RECORD:
        return _record_embed(state, post_uri, embed, depth, typed=True)
    if kind == _RECORD_WITH_MEDIA:
        media = media_view(state.images, uri_did(post_uri), embed.get("media"))
        record = _record_embed(state, post_uri, embed.get("record"), depth, typed=False)
        if media is None or record is None:
            return None
        return {"$type": f"{_RECORD_WITH_MEDIA}#view", "record": record, "media": media}
    return media_view(state.images, uri_did(post_uri), embed)


def _wrap(record: dict[str, Any], typed: bool) -> dict[str, Any]:
    return {"$type": f"{_RECORD}#view", "record": record} if typed else {"record": record}


def _embedded_post(state: HydrationState, uri: str, depth: int) -> dict[str, Any] | None:
    view = post_view(state, uri, depth)
    if view is None:
        return None
    record: dict[str, Any] = {
        "$type": f"{_RECORD}#viewRecord",
        "uri": view["uri"],
        "cid": view["cid"],
        "author": view["author"],
        "value": view["record"],
        "labels": view["labels"],
        "likeCount": view["likeCount"],
        "replyCount": view["replyCount"],
        "repostCount": view["repostCount"],
        "quoteCount": view["quoteCount"],
        "indexedAt": view["indexedAt"],
    }
    if depth <= 1:
        record["embeds"] = [view["embed"]] if "embed" in view else []
    return record


def _record_embed(
    state: HydrationState, post_uri: str, embed: Any, depth: int, *, typed: bool
) -> dict[str, Any] | None:
    ref = embed.get("record") if isinstance(embed, dict) else None
    uri = ref.get("uri") if isinstance(ref, dict) else None
    if not isinstance(uri, str):
        return None
    embedded_author = uri_did(uri)
    blocks = state.post_blocks.get(post_uri)
    if viewer_block_exists(state, embedded_author) or (blocks is not None and blocks.embed):
        record = {
            "$type": f"{_RECORD}#viewBlocked",
            "uri": uri,
            "blocked": True,
            "author": blocked_author(state, embedded_author),
        }
        return _wrap(record, typed)
    post = state.posts.get(post_uri)
    detached = {"$type": f"{_RECORD}#viewDetached", "uri": uri, "detached": True}
    if post is not None and post.violates_embedding_rules:
        return _wrap(detached, typed)
    not_found = {"$type": f"{_RECORD}#viewNotFound", "uri": uri, "notFound": True}
    collection = _collection(uri)
    view: dict[str, Any] | None = None
    if collection == "app.bsky.feed.post":
        view = _embedded_post(state, uri, depth)
        gate = state.postgates.get(uri)
        detached_uris = gate.record.get("detachedEmbeddingUris") if gate else None
        if view is not None and isinstance(detached_uris, list) and post_uri in detached_uris:
            return _wrap(detached, typed)
    elif collection == "app.bsky.feed.generator":
        view = generator_view(state, uri)
        if view is not None:
            view = {"$type": "app.bsky.feed.defs#generatorView", **view}
    elif collection == "app.bsky.graph.list":
        view = list_view(state, uri)
        if view is not None:
            view = {"$type": "app.bsky.graph.defs#listView", **view}
    elif collection == "app.bsky.graph.starterpack":
        view = starter_pack_basic(state, uri)
        if view is not None:
            view = {"$type": "app.bsky.graph.defs#starterPackViewBasic", **view}
    return _wrap(view if view is not None else not_found, typed)
