"""AppView index: the raw records behind every view, and shared column sets.

The AppView keeps its own database (never shared with a PDS or relay). Timestamps are text in
the preferred atproto form (``YYYY-MM-DDTHH:MM:SS.mmmZ``, UTC, :func:`sonet.syntax.datetime.
format_datetime`), so they sort as strings and go into views unchanged. ``sort_at`` is
``min(created_at, indexed_at)``: a record dated in the future sorts at the time it was seen.
Pagination cursors are ``sort_at`` plus ``uri`` (or ``cid``) as a tie-break.

Tables:

- ``record``: every indexed record, one row per AT-URI: its CID, author DID, the record's
  DAG-CBOR bytes (decode with ``cbrrr.decode_dag_cbor(data, atjson_mode=True)`` for the
  JSON ``record`` field of views), when it was indexed, and an AppView-local ``takedown_ref``.
  Records of a DID are the URI range ``'at://<did>/'`` .. ``'at://<did>0'`` (no separate index).
- ``duplicate_record``: a like, repost, follow, block, listitem, listblock or gate that repeats
  an existing one (same creator and subject); it is not counted, and takes the original's place
  when the original is deleted (as the reference AppView does).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, LargeBinary, MetaData, Table, Text

from sonet.storage.migrations import Migration

__all__ = ["MIGRATIONS", "duplicate_record", "meta", "record", "record_columns"]

meta = MetaData()


def record_columns() -> list[Column[str]]:
    """Columns every per-collection table starts with: uri, cid, creator and the three times."""
    return [
        Column("uri", Text, primary_key=True),
        Column("cid", Text, nullable=False),
        Column("creator", Text, nullable=False),
        Column("created_at", Text, nullable=False),
        Column("indexed_at", Text, nullable=False),
        Column("sort_at", Text, nullable=False),
    ]


record = Table(
    "record",
    meta,
    Column("uri", Text, primary_key=True),
    Column("cid", Text, nullable=False),
    Column("did", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("indexed_at", Text, nullable=False),
    Column("takedown_ref", Text),
)

duplicate_record = Table(
    "duplicate_record",
    meta,
    Column("uri", Text, primary_key=True),
    Column("cid", Text, nullable=False),
    Column("duplicate_of", Text, nullable=False),
    Column("indexed_at", Text, nullable=False),
    Index("duplicate_record_of", "duplicate_of", "indexed_at"),
    sqlite_with_rowid=False,
)

MIGRATIONS = [Migration(1, "appview records and duplicates", tables=[record, duplicate_record])]
