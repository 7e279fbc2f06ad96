"""Indexers of ``app.bsky.feed.like`` and ``app.bsky.feed.repost``.

One per (creator, subject); counted in ``post_agg`` of the subject URI whether or not the
subject is indexed. The subject's author is notified (``like``/``repost``), and the author of
the repost it came ``via`` (``like-via-repost``/``repost-via-repost``), never oneself. A repost
is also a feed item of its author. Deleting one removes its notifications.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sonet.appview.ingest.context import BatchContext
from sonet.appview.ingest.events import RecordWrite
from sonet.appview.ingest.fanout import add_feed_item, remove_feed_items
from sonet.appview.ingest.notify import Notif, uri_did
from sonet.appview.ingest.processor import IndexedRow, TableIndexer
from sonet.storage.appview_steps import Steps

__all__ = ["LikeIndexer", "RepostIndexer"]


def _strong_ref(value: Any) -> tuple[str | None, str | None]:
    if not isinstance(value, dict):
        return None, None
    return value.get("uri"), value.get("cid")


class _SubjectIndexer(TableIndexer):
    extra = ("subject", "subject_cid", "via", "via_cid")
    unique_by = ("creator", "subject")
    count_column: ClassVar[str]
    reason: ClassVar[str]

    def values(self, write: RecordWrite) -> dict[str, Any]:
        subject, subject_cid = _strong_ref(write.value.get("subject"))
        via, via_cid = _strong_ref(write.value.get("via"))
        return {"subject": subject, "subject_cid": subject_cid, "via": via, "via_cid": via_cid}

    def count(self, ctx: BatchContext, row: IndexedRow, delta: int) -> None:
        ctx.bump("post_agg", row["subject"], self.count_column, delta)

    def notifs_for_insert(self, row: IndexedRow) -> list[Notif]:
        def notif(did: str, reason: str, subject: str) -> Notif:
            return Notif(
                did, row["creator"], row["uri"], row["cid"], reason, subject, row["sort_at"]
            )

        notifs = [notif(uri_did(row["subject"]), self.reason, row["subject"])]
        if row["via"]:
            notifs.append(notif(uri_did(row["via"]), f"{self.reason}-via-repost", row["via"]))
        return notifs

    def notifs_for_delete(
        self, deleted: IndexedRow, replaced_by: IndexedRow | None
    ) -> tuple[list[Notif], list[str]]:
        return [], ([] if replaced_by else [deleted["uri"]])


class LikeIndexer(_SubjectIndexer):
    """``app.bsky.feed.like``."""

    collection = "app.bsky.feed.like"
    table = "like"
    count_column = "like_count"
    reason = "like"


class RepostIndexer(_SubjectIndexer):
    """``app.bsky.feed.repost``: also a feed item of its author."""

    collection = "app.bsky.feed.repost"
    table = "repost"
    count_column = "repost_count"
    reason = "repost"

    def insert(self, ctx: BatchContext, write: RecordWrite) -> Steps[IndexedRow | None]:
        row = yield from super().insert(ctx, write)
        if row is not None:
            yield from add_feed_item(
                ctx,
                row["uri"],
                row["cid"],
                "repost",
                row["subject"],
                row["creator"],
                row["sort_at"],
            )
        return row

    def delete(self, ctx: BatchContext, uri: str) -> Steps[IndexedRow | None]:
        row = yield from super().delete(ctx, uri)
        yield from remove_feed_items("uri", uri)
        return row
