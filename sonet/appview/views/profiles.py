"""Profile views (``app.bsky.actor.defs#profileViewBasic``, ``#profileView``,
``#profileViewDetailed``) with the viewer's state, and the block/mute predicates every other
view applies.

https://atproto.com/lexicons/app-bsky-actor#appbskyactordefs; shapes and rules as the
reference AppView: an actor that is not hosted or is taken down has no view; a block in either
direction hides ``following``/``followedBy``; ``muted`` covers direct mutes and muted lists.
"""

from __future__ import annotations

from typing import Any

from sonet.appview.ingest.times import normalize_time
from sonet.appview.views.labels import self_labels
from sonet.appview.views.lists import list_basic
from sonet.appview.views.state import HydrationState
from sonet.storage.appview_read_actors import ActorRow
from sonet.syntax.aturi import is_valid_at_uri
from sonet.syntax.cid import is_valid_cid

__all__ = [
    "INVALID_HANDLE",
    "blocked_profile_viewer",
    "known_followers_view",
    "pinned_post",
    "profile",
    "profile_basic",
    "profile_detailed",
    "profile_viewer",
    "starter_pack_basic",
    "viewer_block_exists",
    "viewer_mute_exists",
    "visible_actor",
    "with_known_followers",
]

INVALID_HANDLE = "handle.invalid"


def visible_actor(state: HydrationState, did: str) -> ActorRow | None:
    """The actor's row if it is indexed and shown (hosted, not taken down)."""
    actor = state.actors.get(did)
    return None if actor is None or actor.hidden else actor


def viewer_block_exists(state: HydrationState, did: str) -> bool:
    """Whether the viewer and ``did`` block each other (directly or by list)."""
    rel = state.relations.get(did)
    return rel is not None and rel.blocked


def viewer_mute_exists(state: HydrationState, did: str) -> bool:
    """Whether the viewer muted ``did`` (fully, directly or through a list)."""
    rel = state.relations.get(did)
    return rel is not None and rel.muted_fully


def profile_viewer(state: HydrationState, did: str) -> dict[str, Any] | None:
    """``#viewerState`` of the viewer towards ``did`` (None without a viewer)."""
    rel = state.relations.get(did)
    if rel is None:
        return None
    muted = rel.muted_fully
    view: dict[str, Any] = {
        "muted": muted,
        "mutedOnlyReposts": not muted and rel.muted_only_reposts,
        "mutedOnlyQuoteposts": not muted and rel.muted_only_quoteposts,
        "blockedBy": bool(rel.blocked_by or rel.blocked_by_list),
    }
    if rel.muted_by_list and (muted_list := list_basic(state, rel.muted_by_list)):
        view["mutedByList"] = muted_list
    blocking = rel.blocking or rel.blocking_by_list
    if blocking:
        view["blocking"] = blocking
    if rel.blocking_by_list and (blocking_list := list_basic(state, rel.blocking_by_list)):
        view["blockingByList"] = blocking_list
    if not rel.blocked:
        if rel.following:
            view["following"] = rel.following
        if rel.followed_by:
            view["followedBy"] = rel.followed_by
    return view


def blocked_profile_viewer(state: HydrationState, did: str) -> dict[str, Any] | None:
    """The block part of the viewer state (for ``blockedAuthor``)."""
    rel = state.relations.get(did)
    if rel is None:
        return None
    view: dict[str, Any] = {"blockedBy": bool(rel.blocked_by or rel.blocked_by_list)}
    blocking = rel.blocking or rel.blocking_by_list
    if blocking:
        view["blocking"] = blocking
    return view


def profile_basic(state: HydrationState, did: str) -> dict[str, Any] | None:
    """``#profileViewBasic`` of a visible actor, or None (built once per state; do not modify
    it)."""
    key = ("profile", did, 0)
    if key not in state.views:
        state.views[key] = _profile_basic(state, did)
    view: dict[str, Any] | None = state.views[key]
    return view


def _profile_basic(state: HydrationState, did: str) -> dict[str, Any] | None:
    actor = visible_actor(state, did)
    if actor is None:
        return None
    view: dict[str, Any] = {"did": did, "handle": actor.handle or INVALID_HANDLE}
    profile = actor.profile
    if profile is not None:
        if profile.display_name is not None:
            view["displayName"] = profile.display_name
        pronouns = profile.record.get("pronouns")
        if isinstance(pronouns, str):
            view["pronouns"] = pronouns
        if profile.avatar_cid:
            view["avatar"] = state.images.image("avatar", did, profile.avatar_cid)
    view["associated"] = {"activitySubscription": {"allowSubscriptions": "followers"}}
    viewer = profile_viewer(state, did)
    if viewer is not None:
        view["viewer"] = viewer
    view["labels"] = (
        self_labels(profile.uri, profile.cid, profile.record) if profile is not None else []
    )
    created = profile.record.get("createdAt") if profile is not None else None
    if isinstance(created, str):
        view["createdAt"] = normalize_time(created)
    return view


def profile(state: HydrationState, did: str) -> dict[str, Any] | None:
    """``#profileView`` of a visible actor, or None."""
    basic = profile_basic(state, did)
    if basic is None:
        return None
    view = dict(basic)
    actor = state.actors[did]
    if actor.profile is not None:
        if actor.profile.description:
            view["description"] = actor.profile.description
        view["indexedAt"] = actor.profile.sort_at
    return view


def known_followers_view(state: HydrationState, did: str) -> dict[str, Any] | None:
    """``#knownFollowers``: followers of ``did`` the viewer follows (blocked ones left out)."""
    known = state.known_followers.get(did)
    if known is None or known.count == 0:
        return None
    followers = [
        view
        for follower in known.dids
        if not viewer_block_exists(state, follower)
        and not state.blocked_between(did, follower)
        and (view := profile_basic(state, follower)) is not None
    ]
    return {"count": known.count, "followers": followers}


def with_known_followers(state: HydrationState, did: str, view: dict[str, Any]) -> dict[str, Any]:
    """``view`` with ``viewer.knownFollowers`` added when hydrated."""
    known = known_followers_view(state, did)
    if known is not None and "viewer" in view:
        view["viewer"] = {**view["viewer"], "knownFollowers": known}
    return view


def profile_detailed(state: HydrationState, did: str) -> dict[str, Any] | None:
    """``#profileViewDetailed`` of a visible actor, or None."""
    view = profile(state, did)
    if view is None:
        return None
    with_known_followers(state, did, view)
    actor = state.actors[did]
    agg = state.profile_aggs.get(did)
    p = actor.profile
    if p is not None:
        website = p.record.get("website")
        if isinstance(website, str) and website.startswith("https://"):
            view["website"] = website
        if p.banner_cid:
            view["banner"] = state.images.image("banner", did, p.banner_cid)
    view["followersCount"] = agg.followers if agg else 0
    view["followsCount"] = agg.follows if agg else 0
    view["postsCount"] = agg.posts if agg else 0
    view["associated"] = {
        "lists": agg.lists if agg else 0,
        "feedgens": agg.feedgens if agg else 0,
        "starterPacks": agg.starter_packs if agg else 0,
        "labeler": False,
        "activitySubscription": {"allowSubscriptions": "followers"},
    }
    if p is not None and p.joined_via_starter_pack_uri:
        pack = starter_pack_basic(state, p.joined_via_starter_pack_uri)
        if pack is not None:
            view["joinedViaStarterPack"] = pack
    pinned = pinned_post(actor)
    if pinned is not None:
        view["pinnedPost"] = pinned
    return view


def pinned_post(actor: ActorRow) -> dict[str, str] | None:
    """The profile's pinned post as a valid strong ref, or None."""
    p = actor.profile
    if p is None or not p.pinned_post_uri or not p.pinned_post_cid:
        return None
    if not is_valid_at_uri(p.pinned_post_uri) or not is_valid_cid(p.pinned_post_cid):
        return None
    return {"uri": p.pinned_post_uri, "cid": p.pinned_post_cid}


def starter_pack_basic(state: HydrationState, uri: str) -> dict[str, Any] | None:
    """``app.bsky.graph.defs#starterPackViewBasic`` of a hydrated starter pack, or None."""
    pack = state.starter_packs.get(uri)
    if pack is None:
        return None
    creator = profile_basic(state, pack.creator)
    if creator is None:
        return None
    return {
        "uri": uri,
        "cid": pack.cid,
        "record": pack.record,
        "creator": creator,
        "joinedAllTimeCount": 0,
        "joinedWeekCount": 0,
        "labels": [],
        "indexedAt": pack.sort_at,
    }
