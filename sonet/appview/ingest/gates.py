"""Indexers of ``app.bsky.feed.threadgate`` and ``app.bsky.feed.postgate``.

A gate applies to the post with the same author and record key
(https://atproto.com/lexicons/app-bsky-feed); another gate is not indexed. The gated post's
``has_thread_gate``/``has_post_gate`` flag follows the gate. Their rules are read from the
stored record when replies and quotes are indexed (:mod:`sonet.appview.ingest.thread_rules`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from sonet.appview.ingest.context import BatchContext
from sonet.appview.ingest.errors import InvalidRecordError
from sonet.appview.ingest.events import RecordWrite, record_uri
from sonet.appview.ingest.processor import IndexedRow, TableIndexer
from sonet.storage.appview_index_records import set_post_flag
from sonet.storage.appview_steps import Steps

__all__ = ["PostgateIndexer", "ThreadgateIndexer"]

POST = "app.bsky.feed.post"


class _GateIndexer(TableIndexer):
    extra = ("post_uri",)
    unique_by = ("post_uri",)
    flag: ClassVar[str]

    def check(self, write: RecordWrite) -> None:
        if write.value.get("post") != record_uri(write.did, POST, write.rkey):
            raise InvalidRecordError("creator and rkey of the gate do not match its post")

    def values(self, write: RecordWrite) -> dict[str, Any]:
        return {"post_uri": write.value.get("post")}

    def insert(self, ctx: BatchContext, write: RecordWrite) -> Steps[IndexedRow | None]:
        row = yield from super().insert(ctx, write)
        yield from set_post_flag(self.flag, str(write.value.get("post")), True)
        return row

    def delete(self, ctx: BatchContext, uri: str) -> Steps[IndexedRow | None]:
        row = yield from super().delete(ctx, uri)
        if row is not None:
            yield from set_post_flag(self.flag, row["post_uri"], False)
        return row


class ThreadgateIndexer(_GateIndexer):
    """``app.bsky.feed.threadgate``."""

    collection = "app.bsky.feed.threadgate"
    table = "thread_gate"
    flag = "has_thread_gate"


class PostgateIndexer(_GateIndexer):
    """``app.bsky.feed.postgate``."""

    collection = "app.bsky.feed.postgate"
    table = "post_gate"
    flag = "has_post_gate"
