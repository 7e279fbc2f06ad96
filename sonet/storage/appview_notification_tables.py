"""AppView index: notifications and the ingest bookkeeping (firehose cursors, backfill progress).

Tables:

- ``notification``: one row per notified DID and record: ``reason`` is ``like``, ``repost``,
  ``follow``, ``mention``, ``reply``, ``quote`` (also ``like-via-repost``,
  ``repost-via-repost``, ``starterpack-joined`` as the reference emits them);
  ``reason_subject`` is the liked/reposted/replied-to/quoted URI (NULL for follows and
  mentions); ``author`` did the action; ``sort_at`` is the record's. Self-actions never notify.
  As in the reference AppView, rows are written regardless of blocks and mutes: the reader
  drops notifications whose author is blocked/muted or whose record is gone. Rows of a deleted
  record are removed with it. Newest first by ``(did, sort_at)``.
- ``ingest_cursor``: the last fully indexed ``seq`` per firehose source URL (resume point).
- ``backfill_host``: per PDS host: the ``listRepos`` cursor reached and repos done.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, Table, Text

from sonet.storage.migrations import Migration

__all__ = ["MIGRATIONS", "backfill_host", "ingest_cursor", "meta", "notification"]

meta = MetaData()

notification = Table(
    "notification",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("did", Text, nullable=False),
    Column("record_uri", Text, nullable=False),
    Column("record_cid", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("reason_subject", Text),
    Column("sort_at", Text, nullable=False),
    Index("notification_did_sort", "did", "sort_at"),
    Index("notification_record", "record_uri"),
)

ingest_cursor = Table(
    "ingest_cursor",
    meta,
    Column("source", Text, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("updated_at", Text, nullable=False),
)

backfill_host = Table(
    "backfill_host",
    meta,
    Column("host", Text, primary_key=True),
    Column("list_cursor", Text),
    Column("repos_done", Integer, nullable=False, server_default="0"),
    Column("finished_at", Text),
)

MIGRATIONS = [
    Migration(
        1,
        "appview notifications, ingest cursors and backfill progress",
        tables=[notification, ingest_cursor, backfill_host],
    )
]
