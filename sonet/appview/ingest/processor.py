"""Applying one record create, update or delete, the way the reference AppView does.

Every indexed record is kept in ``record``; its collection's indexer fills its own table(s).
A record that repeats an existing one (a second like of the same post by the same account)
goes to ``duplicate_record`` instead and is neither counted nor notified; when the original
is deleted, the oldest duplicate takes its place. An update is applied as delete + insert of
the collection rows (notifications of the replaced row handled by the indexer). Deleting or
updating a record that was never indexed is a plain no-op or insert.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sonet.appview.ingest.context import BatchContext
from sonet.appview.ingest.errors import IngestError
from sonet.appview.ingest.events import RecordWrite
from sonet.appview.ingest.notify import Notif, delete_notifs, insert_notifs
from sonet.appview.ingest.times import created_and_sort_at
from sonet.repo import cbor
from sonet.storage.appview_index_records import (
    delete_duplicate,
    delete_record_row,
    find_uri,
    insert_duplicate,
    insert_record_row,
    insert_row,
    oldest_duplicate,
    take_row,
    update_duplicate,
    update_record_row,
)
from sonet.storage.appview_steps import Steps

__all__ = [
    "IndexedRow",
    "RecordIndexer",
    "TableIndexer",
    "delete_record",
    "insert_record",
    "update_record",
]

IndexedRow = dict[str, Any]


class RecordIndexer:
    """Indexing of one collection. Subclasses implement :meth:`insert` and :meth:`delete`
    (returning the row they wrote or removed, None if nothing changed) and may override the
    other hooks."""

    collection: ClassVar[str]

    def check(self, write: RecordWrite) -> None:
        """Raise :class:`InvalidRecordError` if ``write`` may not be indexed at all."""

    def insert(self, ctx: BatchContext, write: RecordWrite) -> Steps[IndexedRow | None]:
        """Index the record; None if it was already indexed or is a duplicate."""
        raise NotImplementedError

    def delete(self, ctx: BatchContext, uri: str) -> Steps[IndexedRow | None]:
        """Remove the record's rows; None if it was not indexed."""
        raise NotImplementedError

    def find_duplicate(self, ctx: BatchContext, write: RecordWrite) -> Steps[str | None]:
        """The URI of an indexed record that ``write`` repeats, if any."""
        return None
        yield  # pragma: no cover

    def count(self, ctx: BatchContext, row: IndexedRow, delta: int) -> None:
        """Add ``delta`` (+1 inserted, -1 deleted) to the counts ``row`` contributes to."""

    def notifs_for_insert(self, row: IndexedRow) -> list[Notif]:
        """Notifications caused by a newly indexed row."""
        return []

    def notifs_for_delete(
        self, deleted: IndexedRow, replaced_by: IndexedRow | None
    ) -> tuple[list[Notif], list[str]]:
        """``(notifications to add, record URIs whose notifications go)`` when ``deleted`` is
        removed (and ``replaced_by`` takes its place, on update or duplicate promotion)."""
        return [], []


class TableIndexer(RecordIndexer):
    """A collection indexed into one table with the shared record columns plus ``extra``;
    ``unique_by`` names the columns that make a record a duplicate of another."""

    table: ClassVar[str]
    extra: ClassVar[Sequence[str]] = ()
    unique_by: ClassVar[Sequence[str]] = ()

    def values(self, write: RecordWrite) -> dict[str, Any]:
        """The ``extra`` column values of a record."""
        raise NotImplementedError

    def row(self, ctx: BatchContext, write: RecordWrite) -> IndexedRow:
        """Every column value of ``write``."""
        created_at, sort_at = created_and_sort_at(write.value, ctx.indexed_at)
        return {
            "uri": write.uri,
            "cid": write.cid,
            "creator": write.did,
            "created_at": created_at,
            "indexed_at": ctx.indexed_at,
            "sort_at": sort_at,
            **self.values(write),
        }

    def insert(self, ctx: BatchContext, write: RecordWrite) -> Steps[IndexedRow | None]:
        row = self.row(ctx, write)
        return row if (yield from insert_row(self.table, row)) else None

    def delete(self, ctx: BatchContext, uri: str) -> Steps[IndexedRow | None]:
        columns = ("uri", "cid", "creator", "created_at", "indexed_at", "sort_at", *self.extra)
        return (yield from take_row(self.table, uri, columns))

    def find_duplicate(self, ctx: BatchContext, write: RecordWrite) -> Steps[str | None]:
        if not self.unique_by:
            return None
        row = {"creator": write.did, **self.values(write)}
        return (yield from find_uri(self.table, {c: row[c] for c in self.unique_by}))


def _apply_notifs(
    ctx: BatchContext, ix: RecordIndexer, deleted: IndexedRow | None, inserted: IndexedRow | None
) -> Steps[None]:
    if deleted is not None:
        notifs, to_delete = ix.notifs_for_delete(deleted, inserted)
        yield from delete_notifs(to_delete)
    elif inserted is not None:
        notifs = ix.notifs_for_insert(inserted)
    else:
        return
    yield from insert_notifs(ctx, notifs)


def insert_record(ctx: BatchContext, ix: RecordIndexer, write: RecordWrite) -> Steps[None]:
    """Index a created record (a no-op if it is already indexed)."""
    uri = write.uri
    yield from insert_record_row(uri, write.cid, write.did, write.data, ctx.indexed_at)
    inserted = yield from ix.insert(ctx, write)
    if inserted is not None:
        ix.count(ctx, inserted, 1)
        yield from _apply_notifs(ctx, ix, None, inserted)
        return
    original = yield from ix.find_duplicate(ctx, write)
    if original is not None and original != uri:
        yield from insert_duplicate(uri, write.cid, original, ctx.indexed_at)


def update_record(ctx: BatchContext, ix: RecordIndexer, write: RecordWrite) -> Steps[None]:
    """Apply an updated record: replace its rows (insert it if it was never indexed)."""
    uri = write.uri
    yield from update_record_row(uri, write.cid, write.data, ctx.indexed_at)
    original = yield from ix.find_duplicate(ctx, write)
    if original is not None and original != uri:
        yield from update_duplicate(uri, write.cid, original, ctx.indexed_at)
    else:
        yield from delete_duplicate(uri)
    deleted = yield from ix.delete(ctx, uri)
    if deleted is None:
        yield from insert_record(ctx, ix, write)
        return
    ix.count(ctx, deleted, -1)
    inserted = yield from ix.insert(ctx, write)
    if inserted is None:
        raise IngestError(f"update of {uri}: removed from the index but could not be replaced")
    ix.count(ctx, inserted, 1)
    yield from _apply_notifs(ctx, ix, deleted, inserted)


def delete_record(ctx: BatchContext, ix: RecordIndexer, uri: str) -> Steps[None]:
    """Remove a deleted record; its oldest duplicate, if any, takes its place."""
    yield from delete_record_row(uri)
    deleted = yield from ix.delete(ctx, uri)
    if deleted is None:
        return
    ix.count(ctx, deleted, -1)
    found = yield from oldest_duplicate(uri)
    inserted = None
    if found is not None:
        dup_uri, dup_cid, data, dup_indexed_at = found
        yield from delete_duplicate(dup_uri)
        now, ctx.indexed_at = ctx.indexed_at, dup_indexed_at
        try:
            inserted = yield from ix.insert(ctx, _promoted(dup_uri, dup_cid, data))
        finally:
            ctx.indexed_at = now
        if inserted is not None:
            ix.count(ctx, inserted, 1)
    yield from _apply_notifs(ctx, ix, deleted, inserted)


def _promoted(uri: str, cid: str, data: bytes) -> RecordWrite:
    did, collection, rkey = uri[5:].split("/", 2)
    value = cbor.decode(data)
    return RecordWrite("create", did, collection, rkey, cid, data, value)
