"""AppView index: home timelines pushed at ingest (hybrid fan-out), in compact integer rows.

Tables:

- ``timeline_actor``: an integer ``id`` per DID that owns a timeline, follows or is followed,
  or writes feed items; ``horizon``: the owner's timeline holds every pushed item whose
  ``sort_key`` is above it (NULL: every item; set when old rows are trimmed, and to the
  migration time for timelines that existed before this layout). At or below it, readers
  pull the items of every followee instead.
- ``timeline_follow``: the follow graph by id (``subject_id``, ``follower_id``), one row per
  indexed ``follow`` row: the followers a new item is pushed to.
- ``timeline_item``: ``(owner_id, sort_key, item_id)``, the whole row its key: a ``feed_item``
  (``item_id`` = ``feed_item.id``) in an owner's timeline; ``sort_key`` is the item's
  ``sort_at`` as an integer that sorts the same way (:func:`sort_key`). Items with equal
  ``sort_at`` are ordered by their URI when read, as everywhere else.
- ``timeline_pulled``: authors some of whose items were not pushed (they had at least the
  fan-out threshold of followers when they wrote them): readers merge their feed items in.

Step 1 also gives ``feed_item`` an integer ``id`` (on SQLite the table is rebuilt with it as
the rowid) and drops its index on ``(originator_did, sort_at)``, which the covering index of
appview_feed step 3 makes redundant, and replaces the former ``timeline_item (owner_did,
sort_at, uri)``: existing follows are copied into ``timeline_follow`` and existing timelines
start empty above a horizon at the migration time (older items are pulled when read).

Step 2 drops ``feed_item``'s index on ``post_uri``: the feed items of a post are the post's
own and those of its reposts, found through ``repost``'s index on the subject.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, Text
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.migrations import Migration

__all__ = [
    "MIGRATIONS",
    "meta",
    "sort_at_of",
    "sort_key",
    "timeline_actor",
    "timeline_follow",
    "timeline_item",
    "timeline_pulled",
]

meta = MetaData()

_RADICES = (20, 40, 30, 60, 70, 1000)
"""Month, day, hour, minute, second, millisecond: each above the largest value the preferred
datetime form's syntax allows in that field (``[01][0-9]``, ``[0-3][0-9]``, ``[0-2][0-9]``,
``[0-5][0-9]``, ``[0-6][0-9]``, three digits)."""
_FIELDS = ((5, 7), (8, 10), (11, 13), (14, 16), (17, 19), (20, 23))


@lru_cache(maxsize=65536)
def sort_key(sort_at: str) -> int:
    """``sort_at`` (``YYYY-MM-DDTHH:MM:SS.mmmZ``) as an integer in the same order: its fields
    in mixed radix from 1970 (about 2^42 today: six bytes in an SQLite record)."""
    key = int(sort_at[0:4]) - 1970
    for radix, (start, end) in zip(_RADICES, _FIELDS, strict=True):
        key = key * radix + int(sort_at[start:end])
    return key


def sort_at_of(key: int) -> str:
    """The ``sort_at`` string of a :func:`sort_key` (any integer is the key of one)."""
    fields: list[int] = []
    for radix in reversed(_RADICES):
        key, value = divmod(key, radix)
        fields.append(value)
    ms, second, minute, hour, day, month = fields
    return f"{key + 1970:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{ms:03d}Z"


def now_key() -> int:
    """The :func:`sort_key` of the current time."""
    now = datetime.fromtimestamp(time.time(), UTC)
    return sort_key(f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z")


timeline_actor = Table(
    "timeline_actor",
    meta,
    Column("id", Integer, primary_key=True),
    Column("did", Text, nullable=False, unique=True),
    Column("horizon", BigInteger),
)

timeline_follow = Table(
    "timeline_follow",
    meta,
    Column("subject_id", Integer, primary_key=True, autoincrement=False),
    Column("follower_id", Integer, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)

timeline_item = Table(
    "timeline_item",
    meta,
    Column("owner_id", Integer, primary_key=True, autoincrement=False),
    Column("sort_key", BigInteger, primary_key=True, autoincrement=False),
    Column("item_id", BigInteger, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)

timeline_pulled = Table(
    "timeline_pulled",
    meta,
    Column("did", Text, primary_key=True),
    sqlite_with_rowid=False,
)

_FEED_ITEM_COLUMNS = 'uri, cid, "type", post_uri, originator_did, sort_at'

_SQLITE_FEED_ITEM_ID = [
    "CREATE TABLE feed_item_v2 (id INTEGER PRIMARY KEY, uri TEXT NOT NULL UNIQUE, "
    'cid TEXT NOT NULL, "type" TEXT NOT NULL, post_uri TEXT NOT NULL, '
    "originator_did TEXT NOT NULL, sort_at TEXT NOT NULL)",
    f"INSERT INTO feed_item_v2 ({_FEED_ITEM_COLUMNS}) "
    f"SELECT {_FEED_ITEM_COLUMNS} FROM feed_item ORDER BY rowid",
    "DROP TABLE feed_item",
    "ALTER TABLE feed_item_v2 RENAME TO feed_item",
    "CREATE INDEX feed_item_originator_cover ON feed_item (originator_did, sort_at, uri, post_uri)",
]

_POSTGRES_FEED_ITEM_ID = [
    "ALTER TABLE feed_item ADD COLUMN id BIGINT GENERATED BY DEFAULT AS IDENTITY",
    "CREATE UNIQUE INDEX feed_item_id ON feed_item (id)",
    "DROP INDEX IF EXISTS feed_item_originator_sort",
]


async def _compact_timelines(conn: AsyncConnection) -> None:
    sqlite = conn.dialect.name == "sqlite"
    for statement in _SQLITE_FEED_ITEM_ID if sqlite else _POSTGRES_FEED_ITEM_ID:
        await conn.exec_driver_sql(statement)
    await conn.exec_driver_sql("DROP TABLE IF EXISTS timeline_item")
    for table in meta.sorted_tables:
        await conn.run_sync(table.create)
    horizon = now_key()
    for statement in (
        f"INSERT INTO timeline_actor (did, horizon) SELECT did, {int(horizon)} FROM "
        "(SELECT creator AS did FROM follow UNION SELECT subject_did FROM follow "
        "UNION SELECT originator_did FROM feed_item) AS dids WHERE true "
        "ON CONFLICT (did) DO NOTHING",
        "INSERT INTO timeline_follow (subject_id, follower_id) SELECT s.id, c.id FROM follow f "
        "JOIN timeline_actor s ON s.did = f.subject_did "
        "JOIN timeline_actor c ON c.did = f.creator WHERE true ON CONFLICT DO NOTHING",
    ):
        await conn.exec_driver_sql(statement)


MIGRATIONS = [
    Migration(
        1,
        "appview timelines in integer rows: actor ids, the follow graph by id, feed item ids",
        run=_compact_timelines,
    ),
    Migration(
        2,
        "appview feed items: no index on post_uri (a post's reposts are found through repost)",
        sql=["DROP INDEX IF EXISTS feed_item_post"],
    ),
]
