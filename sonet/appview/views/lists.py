"""``app.bsky.graph.defs#listViewBasic`` and the viewer's block/mute checks that involve lists.

https://atproto.com/lexicons/app-bsky-graph#appbskygraphdefs; shapes as the reference AppView
builds them (``listItemCount``, ``indexedAt`` = the record's sort time, the viewer's mute and
block of the list).
"""

from __future__ import annotations

from typing import Any

from sonet.appview.views.state import HydrationState

__all__ = ["list_basic"]


def list_basic(state: HydrationState, uri: str) -> dict[str, Any] | None:
    """The basic view of a hydrated list, or None."""
    row = state.lists.get(uri)
    if row is None:
        return None
    view: dict[str, Any] = {
        "uri": uri,
        "cid": row.cid,
        "name": row.name,
        "purpose": row.purpose,
        "listItemCount": state.list_counts.get(uri, 0),
        "indexedAt": row.sort_at,
        "labels": [],
    }
    if row.avatar_cid:
        view["avatar"] = state.images.image("avatar", row.creator, row.avatar_cid)
    viewer = state.list_viewers.get(uri)
    if viewer is not None:
        view["viewer"] = {"muted": viewer.muted}
        if viewer.blocked:
            view["viewer"]["blocked"] = viewer.blocked
    return view
