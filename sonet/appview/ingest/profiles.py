"""Indexers of ``app.bsky.actor.profile`` (record key ``self`` only) and
``app.bsky.feed.generator``.

Joining through a starter pack notifies the pack's creator (``starterpack-joined``), as the
reference AppView does. A profile change refreshes the actor's search document.
"""

from __future__ import annotations

from typing import Any

from sonet.appview.ingest.context import BatchContext
from sonet.appview.ingest.errors import InvalidRecordError
from sonet.appview.ingest.events import RecordWrite
from sonet.appview.ingest.graph import blob_cid
from sonet.appview.ingest.notify import Notif, uri_did
from sonet.appview.ingest.processor import IndexedRow, TableIndexer
from sonet.storage.appview_steps import Steps

__all__ = ["FeedGeneratorIndexer", "ProfileIndexer"]


def _ref(value: Any) -> tuple[str | None, str | None]:
    if isinstance(value, dict):
        return value.get("uri"), value.get("cid")
    return None, None


class ProfileIndexer(TableIndexer):
    """``app.bsky.actor.profile``."""

    collection = "app.bsky.actor.profile"
    table = "profile"
    extra = (
        "display_name",
        "description",
        "avatar_cid",
        "banner_cid",
        "joined_via_starter_pack_uri",
        "pinned_post_uri",
        "pinned_post_cid",
    )

    def check(self, write: RecordWrite) -> None:
        if write.rkey != "self":
            raise InvalidRecordError("profile record key must be 'self'")

    def values(self, write: RecordWrite) -> dict[str, Any]:
        v = write.value
        pinned_uri, pinned_cid = _ref(v.get("pinnedPost"))
        return {
            "display_name": v.get("displayName"),
            "description": v.get("description"),
            "avatar_cid": blob_cid(v.get("avatar")),
            "banner_cid": blob_cid(v.get("banner")),
            "joined_via_starter_pack_uri": _ref(v.get("joinedViaStarterPack"))[0],
            "pinned_post_uri": pinned_uri,
            "pinned_post_cid": pinned_cid,
        }

    def insert(self, ctx: BatchContext, write: RecordWrite) -> Steps[IndexedRow | None]:
        row = yield from super().insert(ctx, write)
        ctx.actor_docs.add(write.did)
        return row

    def delete(self, ctx: BatchContext, uri: str) -> Steps[IndexedRow | None]:
        row = yield from super().delete(ctx, uri)
        if row is not None:
            ctx.actor_docs.add(row["creator"])
        return row

    def notifs_for_insert(self, row: IndexedRow) -> list[Notif]:
        pack = row["joined_via_starter_pack_uri"]
        if not pack:
            return []
        return [
            Notif(
                uri_did(pack),
                row["creator"],
                row["uri"],
                row["cid"],
                "starterpack-joined",
                pack,
                row["indexed_at"],
            )
        ]


class FeedGeneratorIndexer(TableIndexer):
    """``app.bsky.feed.generator``."""

    collection = "app.bsky.feed.generator"
    table = "feed_generator"
    extra = ("feed_did", "display_name", "description", "avatar_cid")

    def values(self, write: RecordWrite) -> dict[str, Any]:
        v = write.value
        return {
            "feed_did": v.get("did"),
            "display_name": v.get("displayName"),
            "description": v.get("description"),
            "avatar_cid": blob_cid(v.get("avatar")),
        }
