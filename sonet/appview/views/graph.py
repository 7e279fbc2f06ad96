"""List and feed generator views (``app.bsky.graph.defs#listView``, ``#listItemView``,
``app.bsky.feed.defs#generatorView``), as the reference AppView builds them: each needs its
creator's profile; ``indexedAt`` is the record's sort time.
"""

from __future__ import annotations

from typing import Any

from sonet.appview.views.lists import list_basic
from sonet.appview.views.profiles import profile
from sonet.appview.views.state import HydrationState

__all__ = ["generator_view", "list_item_view", "list_view"]


def list_view(state: HydrationState, uri: str) -> dict[str, Any] | None:
    """``#listView`` of a hydrated list whose creator is visible, or None."""
    row = state.lists.get(uri)
    if row is None:
        return None
    creator = profile(state, row.creator)
    basic = list_basic(state, uri)
    if creator is None or basic is None:
        return None
    view = {**basic, "creator": creator}
    description = row.record.get("description")
    if isinstance(description, str):
        view["description"] = description
    facets = row.record.get("descriptionFacets")
    if isinstance(facets, list):
        view["descriptionFacets"] = facets
    return view


def list_item_view(state: HydrationState, uri: str, did: str) -> dict[str, Any] | None:
    """``#listItemView`` of a member, or None if the member has no view."""
    subject = profile(state, did)
    return None if subject is None else {"uri": uri, "subject": subject}


def generator_view(state: HydrationState, uri: str) -> dict[str, Any] | None:
    """``#generatorView`` of a hydrated feed generator whose creator is visible, or None."""
    gen = state.feedgens.get(uri)
    if gen is None:
        return None
    creator = profile(state, gen.creator)
    if creator is None:
        return None
    record = gen.record
    view: dict[str, Any] = {
        "uri": uri,
        "cid": gen.cid,
        "did": gen.feed_did,
        "creator": creator,
        "displayName": gen.display_name,
    }
    for key in ("description", "descriptionFacets"):
        if key in record:
            view[key] = record[key]
    if gen.avatar_cid:
        view["avatar"] = state.images.image("avatar", gen.creator, gen.avatar_cid)
    agg = state.feedgen_aggs.get(uri)
    view["likeCount"] = agg.likes if agg else 0
    if isinstance(record.get("acceptsInteractions"), bool):
        view["acceptsInteractions"] = record["acceptsInteractions"]
    view["labels"] = []
    viewer = state.feedgen_viewers.get(uri)
    if viewer is not None:
        view["viewer"] = {"like": viewer.like} if viewer.like else {}
    if isinstance(record.get("contentMode"), str):
        view["contentMode"] = record["contentMode"]
    view["indexedAt"] = gen.sort_at
    return view
