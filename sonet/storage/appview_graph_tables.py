"""AppView index: the social graph (follows, blocks, lists, starter packs).

Tables (``record_columns``: uri, cid, creator, created_at, indexed_at, sort_at):

- ``follow``: ``app.bsky.graph.follow`` of ``subject_did``; one per (creator, subject), repeats
  go to ``duplicate_record``. Counted in ``profile_agg``.
- ``actor_block``: ``app.bsky.graph.block`` of ``subject_did``; one per (creator, subject).
- ``list``: ``app.bsky.graph.list``: name, purpose (the lexicon token, e.g.
  ``app.bsky.graph.defs#modlist``), description, avatar blob CID.
- ``list_item``: ``app.bsky.graph.listitem``: ``subject_did`` in ``list_uri`` (the list must
  belong to the item's creator); one per (list, subject).
- ``list_block``: ``app.bsky.graph.listblock``: the creator blocks every member of
  ``subject_uri`` (a moderation list).
- ``starter_pack``: ``app.bsky.graph.starterpack``: name (the rest is in ``record``).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, MetaData, Table, Text

from sonet.storage.appview_record_tables import record_columns
from sonet.storage.migrations import Migration

__all__ = [
    "MIGRATIONS",
    "actor_block",
    "follow",
    "list_",
    "list_block",
    "list_item",
    "meta",
    "starter_pack",
]

meta = MetaData()


def _actor_edge(name: str) -> Table:
    return Table(
        name,
        meta,
        *record_columns(),
        Column("subject_did", Text, nullable=False),
        Index(f"{name}_unique_subject", "creator", "subject_did", unique=True),
        Index(f"{name}_subject_sort", "subject_did", "sort_at"),
    )


follow = _actor_edge("follow")
actor_block = _actor_edge("actor_block")

list_ = Table(
    "list",
    meta,
    *record_columns(),
    Column("name", Text, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("description", Text),
    Column("avatar_cid", Text),
    Index("list_creator", "creator", "sort_at"),
    sqlite_with_rowid=False,
)

list_item = Table(
    "list_item",
    meta,
    *record_columns(),
    Column("subject_did", Text, nullable=False),
    Column("list_uri", Text, nullable=False),
    Index("list_item_unique_subject", "list_uri", "subject_did", unique=True),
    Index("list_item_subject", "subject_did"),
    sqlite_with_rowid=False,
)

list_block = Table(
    "list_block",
    meta,
    *record_columns(),
    Column("subject_uri", Text, nullable=False),
    Index("list_block_unique_subject", "creator", "subject_uri", unique=True),
    Index("list_block_subject", "subject_uri"),
    sqlite_with_rowid=False,
)

starter_pack = Table(
    "starter_pack",
    meta,
    *record_columns(),
    Column("name", Text, nullable=False),
    Index("starter_pack_creator", "creator", "sort_at"),
    sqlite_with_rowid=False,
)

MIGRATIONS = [
    Migration(
        1,
        "appview follows, blocks, lists and starter packs",
        tables=[follow, actor_block, list_, list_item, list_block, starter_pack],
    ),
    Migration(
        2,
        "appview read paths: an actor's follows and blocks, newest first",
        sql=[
            "CREATE INDEX IF NOT EXISTS follow_creator_sort ON follow (creator, sort_at)",
            "CREATE INDEX IF NOT EXISTS actor_block_creator_sort ON actor_block (creator, sort_at)",
        ],
    ),
]
