"""AppView index: actors, profiles, their counts and private per-viewer state.

Tables:

- ``actor``: one row per DID seen on the firehose or in a backfill. ``handle`` is the verified
  handle (lowercase; NULL when the DID document's handle does not resolve back, shown as
  ``handle.invalid``), unique among actors. ``upstream_status`` is NULL for an active account or
  ``deactivated`` / ``takendown`` / ``suspended`` from ``#account`` events: such actors and their
  content are hidden from views. ``takedown_ref`` is an AppView-local takedown. ``repo_rev`` and
  ``repo_commit`` are the last commit indexed for the repo (older or equal revs are skipped on
  replay). ``indexed_at`` is when the handle was last resolved.
- ``profile``: ``app.bsky.actor.profile`` (rkey ``self`` only): display name, description,
  avatar/banner blob CIDs, joined-via starter pack, pinned post.
- ``profile_agg``: exact counts per DID: followers, follows, posts (lists, feeds and starter
  packs are counted on read). Kept incrementally by the indexer, only for rows that really
  changed, so replays never double count.
- ``actor_state``: per-viewer notification state (``last_seen_notifs``, set by updateSeen).
- ``mute``, ``list_mute``, ``thread_mute``: private mutes written by the read API
  (muteActor, muteActorList, muteThread); never from records. A ``mute`` may be scoped to the
  subject's reposts or quote posts only (``only_reposts``, ``only_quoteposts``, step 3).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, Table, Text

from sonet.storage.appview_record_tables import record_columns
from sonet.storage.migrations import Migration

__all__ = [
    "MIGRATIONS",
    "actor",
    "actor_state",
    "list_mute",
    "meta",
    "mute",
    "profile",
    "profile_agg",
    "thread_mute",
]

meta = MetaData()

actor = Table(
    "actor",
    meta,
    Column("did", Text, primary_key=True),
    Column("handle", Text),
    Column("indexed_at", Text, nullable=False),
    Column("upstream_status", Text),
    Column("takedown_ref", Text),
    Column("repo_rev", Text),
    Column("repo_commit", Text),
    Index("actor_handle", "handle", unique=True),
    sqlite_with_rowid=False,
)

profile = Table(
    "profile",
    meta,
    *record_columns(),
    Column("display_name", Text),
    Column("description", Text),
    Column("avatar_cid", Text),
    Column("banner_cid", Text),
    Column("joined_via_starter_pack_uri", Text),
    Column("pinned_post_uri", Text),
    Column("pinned_post_cid", Text),
    Index("profile_creator", "creator", unique=True),
    sqlite_with_rowid=False,
)

profile_agg = Table(
    "profile_agg",
    meta,
    Column("did", Text, primary_key=True),
    Column("followers_count", Integer, nullable=False, server_default="0"),
    Column("follows_count", Integer, nullable=False, server_default="0"),
    Column("posts_count", Integer, nullable=False, server_default="0"),
    sqlite_with_rowid=False,
)

actor_state = Table(
    "actor_state",
    meta,
    Column("did", Text, primary_key=True),
    Column("last_seen_notifs", Text, nullable=False),
    sqlite_with_rowid=False,
)

mute = Table(
    "mute",
    meta,
    Column("muted_by_did", Text, primary_key=True),
    Column("subject_did", Text, primary_key=True),
    Column("created_at", Text, nullable=False),
    sqlite_with_rowid=False,
)

list_mute = Table(
    "list_mute",
    meta,
    Column("muted_by_did", Text, primary_key=True),
    Column("list_uri", Text, primary_key=True),
    Column("created_at", Text, nullable=False),
    sqlite_with_rowid=False,
)

thread_mute = Table(
    "thread_mute",
    meta,
    Column("muted_by_did", Text, primary_key=True),
    Column("root_uri", Text, primary_key=True),
    Column("created_at", Text, nullable=False),
    sqlite_with_rowid=False,
)

MIGRATIONS = [
    Migration(
        1,
        "appview actors, profiles, counts and mutes",
        tables=[actor, profile, profile_agg, actor_state, mute, list_mute, thread_mute],
    ),
    Migration(
        2,
        "appview read paths: most-followed actors (suggestions, timeline pull set)",
        sql=[
            "CREATE INDEX IF NOT EXISTS profile_agg_followers ON profile_agg (followers_count, did)"
        ],
    ),
    Migration(
        3,
        "appview scoped mutes (only reposts, only quote posts)",
        sql=[
            "ALTER TABLE mute ADD COLUMN only_reposts BOOLEAN NOT NULL DEFAULT false",
            "ALTER TABLE mute ADD COLUMN only_quoteposts BOOLEAN NOT NULL DEFAULT false",
        ],
    ),
]
