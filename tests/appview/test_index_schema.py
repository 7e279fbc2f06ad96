"""The AppView index schema migrates on both databases, idempotently."""

from __future__ import annotations

from sqlalchemy import inspect

from sonet.appview.schema import migrate_appview
from sonet.storage.database import Database

EXPECTED = {
    "actor",
    "actor_block",
    "actor_state",
    "backfill_host",
    "duplicate_record",
    "feed_generator",
    "feed_item",
    "follow",
    "ingest_cursor",
    "like",
    "list",
    "list_block",
    "list_item",
    "list_mute",
    "mute",
    "notification",
    "post",
    "post_agg",
    "post_facet",
    "post_gate",
    "profile",
    "profile_agg",
    "quote",
    "record",
    "repost",
    "starter_pack",
    "thread_gate",
    "thread_mute",
    "timeline_item",
}


async def test_migrates_every_table_twice(database: Database) -> None:
    await migrate_appview(database)
    await migrate_appview(database)
    async with database.read() as conn:
        names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    assert names >= EXPECTED
