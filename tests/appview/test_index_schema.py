"""The AppView index schema migrates on both databases, idempotently."""

from __future__ import annotations

from sqlalchemy import inspect, text

from sonet.appview.schema import migrate_appview
from sonet.appview.timeline import TimelineReader
from sonet.storage import (
    appview_actor_tables,
    appview_feed_tables,
    appview_graph_tables,
    appview_record_tables,
)
from sonet.storage.appview_read_sql import Reader
from sonet.storage.appview_timeline_tables import sort_key
from sonet.storage.database import Database
from sonet.storage.migrations import migrate
from tests.appview.test_ingest_support import rows

T0 = "2025-01-01T00:00:00.000Z"

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
    "timeline_actor",
    "timeline_follow",
    "timeline_item",
    "timeline_pulled",
}


async def test_migrates_every_table_twice(database: Database) -> None:
    await migrate_appview(database)
    await migrate_appview(database)
    async with database.read() as conn:
        names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    assert names >= EXPECTED


async def test_legacy_timelines_migrate(database: Database) -> None:
    """Before appview_timeline: feed items without ids and timelines keyed by DID and URI."""
    for component, steps in (
        ("appview_record", appview_record_tables.MIGRATIONS),
        ("appview_actor", appview_actor_tables.MIGRATIONS),
        ("appview_feed", appview_feed_tables.MIGRATIONS),
        ("appview_graph", appview_graph_tables.MIGRATIONS),
    ):
        await migrate(database, component, steps)
    viewer, small, big = "did:plc:viewer", "did:plc:small", "did:plc:big"
    # small's items were pushed (to the viewer and itself); big's item was not pushed at all
    items = [
        (small, f"at://{small}/app.bsky.feed.post/a", [viewer, small]),
        (big, f"at://{big}/app.bsky.feed.post/b", []),
        (small, f"at://{small}/app.bsky.feed.post/c", [viewer, small]),
    ]
    async with database.write() as conn:
        for n, subject in enumerate((small, big)):
            await conn.execute(
                text(
                    "INSERT INTO follow (uri, cid, creator, created_at, indexed_at, sort_at, "
                    "subject_did) VALUES (:u, 'c', :v, :t, :t, :t, :s)"
                ),
                {
                    "u": f"at://{viewer}/app.bsky.graph.follow/{n}",
                    "v": viewer,
                    "s": subject,
                    "t": T0,
                },
            )
        for n, (author, uri, owners) in enumerate(items):
            when = f"2025-01-01T00:00:0{n}.000Z"
            await conn.execute(
                text(
                    'INSERT INTO feed_item (uri, cid, "type", post_uri, originator_did, sort_at) '
                    "VALUES (:u, 'c', 'post', :u, :a, :t)"
                ),
                {"u": uri, "a": author, "t": when},
            )
            for owner in owners:
                await conn.execute(
                    text("INSERT INTO timeline_item (owner_did, sort_at, uri) VALUES (:o, :t, :u)"),
                    {"o": owner, "t": when, "u": uri},
                )
    await migrate_appview(database)
    ids = await rows(database, "SELECT id FROM feed_item ORDER BY uri")
    assert len({r[0] for r in ids}) == 3 and all(r[0] is not None for r in ids)
    edges = await rows(
        database,
        "SELECT s.did, f.did FROM timeline_follow e JOIN timeline_actor s ON s.id = e.subject_id "
        "JOIN timeline_actor f ON f.id = e.follower_id ORDER BY 1",
    )
    assert edges == [(big, viewer), (small, viewer)]
    converted = await rows(
        database,
        "SELECT a.did, f.uri, f.sort_at, t.sort_key FROM timeline_item t "
        "JOIN timeline_actor a ON a.id = t.owner_id JOIN feed_item f ON f.id = t.item_id "
        "ORDER BY 1, 2",
    )
    assert [(r[0], r[1]) for r in converted] == [
        (small, items[0][1]),
        (small, items[2][1]),
        (viewer, items[0][1]),
        (viewer, items[2][1]),
    ]
    assert all(r[3] == sort_key(r[2]) for r in converted)
    assert await rows(database, "SELECT did FROM timeline_pulled") == [(big,)]
    assert await rows(
        database, "SELECT COUNT(*) FROM timeline_actor WHERE horizon IS NOT NULL"
    ) == [(0,)]
    reader = Reader(database)
    try:
        page, _ = await TimelineReader(reader).page(viewer, 2, None)
        assert [i.post for i in page.items] == [items[2][1], items[1][1]]
        rest, _ = await TimelineReader(reader).page(viewer, 2, page.next)
        assert [i.post for i in rest.items] == [items[0][1]] and rest.next is None
    finally:
        await reader.close()
