"""Indexers of the social graph: follows, blocks, lists, list items, list blocks, starter packs.

A follow counts in ``profile_agg`` (followers of the subject, follows of the creator), notifies
the subject (``follow``) and updates the follower's pushed timeline. A list item must belong to
a list of its own creator (https://atproto.com/lexicons/app-bsky-graph, as the reference AppView
requires); otherwise it is not indexed.
"""

from __future__ import annotations

from typing import Any

from sonet.appview.ingest.context import BatchContext
from sonet.appview.ingest.errors import InvalidRecordError
from sonet.appview.ingest.events import RecordWrite
from sonet.appview.ingest.fanout import follow_timeline, unfollow_timeline
from sonet.appview.ingest.notify import Notif, uri_did
from sonet.appview.ingest.processor import IndexedRow, TableIndexer
from sonet.storage.appview_steps import Steps

__all__ = [
    "BlockIndexer",
    "FollowIndexer",
    "ListBlockIndexer",
    "ListIndexer",
    "ListItemIndexer",
    "StarterPackIndexer",
    "blob_cid",
]


def blob_cid(blob: Any) -> str | None:
    """The CID (base32) of a blob reference, if ``blob`` is one."""
    if isinstance(blob, dict):
        ref = blob.get("ref")
        if ref is not None and hasattr(ref, "encode"):
            return str(ref.encode())
        cid = blob.get("cid")  # legacy blob reference
        if isinstance(cid, str):
            return cid
    return None


class FollowIndexer(TableIndexer):
    """``app.bsky.graph.follow``."""

    collection = "app.bsky.graph.follow"
    table = "follow"
    extra = ("subject_did",)
    unique_by = ("creator", "subject_did")

    def values(self, write: RecordWrite) -> dict[str, Any]:
        return {"subject_did": write.value.get("subject")}

    def insert(self, ctx: BatchContext, write: RecordWrite) -> Steps[IndexedRow | None]:
        row = yield from super().insert(ctx, write)
        if row is not None:
            yield from follow_timeline(ctx, row["creator"], row["subject_did"])
        return row

    def delete(self, ctx: BatchContext, uri: str) -> Steps[IndexedRow | None]:
        row = yield from super().delete(ctx, uri)
        if row is not None:
            yield from unfollow_timeline(ctx, row["creator"], row["subject_did"])
        return row

    def count(self, ctx: BatchContext, row: IndexedRow, delta: int) -> None:
        ctx.bump("profile_agg", row["subject_did"], "followers_count", delta)
        ctx.bump("profile_agg", row["creator"], "follows_count", delta)

    def notifs_for_insert(self, row: IndexedRow) -> list[Notif]:
        return [
            Notif(
                row["subject_did"],
                row["creator"],
                row["uri"],
                row["cid"],
                "follow",
                None,
                row["sort_at"],
            )
        ]

    def notifs_for_delete(
        self, deleted: IndexedRow, replaced_by: IndexedRow | None
    ) -> tuple[list[Notif], list[str]]:
        return [], ([] if replaced_by else [deleted["uri"]])


class BlockIndexer(TableIndexer):
    """``app.bsky.graph.block``."""

    collection = "app.bsky.graph.block"
    table = "actor_block"
    extra = ("subject_did",)
    unique_by = ("creator", "subject_did")

    def values(self, write: RecordWrite) -> dict[str, Any]:
        return {"subject_did": write.value.get("subject")}


class ListIndexer(TableIndexer):
    """``app.bsky.graph.list``."""

    collection = "app.bsky.graph.list"
    table = "list"
    extra = ("name", "purpose", "description", "avatar_cid")

    def values(self, write: RecordWrite) -> dict[str, Any]:
        v = write.value
        return {
            "name": v.get("name"),
            "purpose": v.get("purpose"),
            "description": v.get("description"),
            "avatar_cid": blob_cid(v.get("avatar")),
        }


class ListItemIndexer(TableIndexer):
    """``app.bsky.graph.listitem``: only in a list of the same creator."""

    collection = "app.bsky.graph.listitem"
    table = "list_item"
    extra = ("subject_did", "list_uri")
    unique_by = ("list_uri", "subject_did")

    def check(self, write: RecordWrite) -> None:
        if uri_did(str(write.value.get("list", ""))) != write.did:
            raise InvalidRecordError("creator of listitem does not match creator of list")

    def values(self, write: RecordWrite) -> dict[str, Any]:
        return {"subject_did": write.value.get("subject"), "list_uri": write.value.get("list")}


class ListBlockIndexer(TableIndexer):
    """``app.bsky.graph.listblock``."""

    collection = "app.bsky.graph.listblock"
    table = "list_block"
    extra = ("subject_uri",)
    unique_by = ("creator", "subject_uri")

    def values(self, write: RecordWrite) -> dict[str, Any]:
        return {"subject_uri": write.value.get("subject")}


class StarterPackIndexer(TableIndexer):
    """``app.bsky.graph.starterpack``."""

    collection = "app.bsky.graph.starterpack"
    table = "starter_pack"
    extra = ("name",)

    def values(self, write: RecordWrite) -> dict[str, Any]:
        return {"name": write.value.get("name")}
