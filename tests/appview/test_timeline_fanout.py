"""Home timelines with hybrid fan-out: pushed items of small accounts merged with pulled items
of big ones, stable cursors while new posts arrive, blocks and mutes applied, the Redis cache
of pulled authors (on the real Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from sonet.storage.database import Database
from tests.appview.test_api_support import (  # noqa: F401
    Account,
    World,
    at,
    fixture_plc_url,
    ref,
    start_world,
)

TIMELINE = "app.bsky.feed.getTimeline"
THRESHOLD = 3


@pytest.fixture(name="world")
async def fixture_small_threshold_world(
    database: Database, tmp_path: Path, plc_url: str
) -> AsyncIterator[World]:
    """Authors with 3 followers or more are pulled at read time."""
    async for w in start_world(database, tmp_path, plc_url, fanout_threshold=THRESHOLD):
        yield w


@pytest.fixture(name="redis_world")
async def fixture_redis_world(
    database: Database, tmp_path: Path, plc_url: str, redis_url: str
) -> AsyncIterator[World]:
    """The same, with pulled authors' items cached in Redis."""
    async for w in start_world(
        database, tmp_path, plc_url, fanout_threshold=THRESHOLD, redis_url=redis_url
    ):
        yield w


def uris(feed: list[dict[str, Any]]) -> list[str]:
    return [i["post"]["uri"] for i in feed]


async def timeline(world: World, viewer: Account, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        extra: dict[str, str] = {"cursor": cursor} if cursor else {}
        out = await world.ok(TIMELINE, viewer, params={**params, **extra})
        items += out["feed"]
        cursor = out.get("cursor")
        if not cursor:
            return items
    raise AssertionError("too many pages")


async def pushed_owners(world: World, uri: str) -> set[str]:
    async with world.db.read() as conn:
        result = await conn.exec_driver_sql(
            "SELECT a.did FROM timeline_item t JOIN timeline_actor a ON a.id = t.owner_id "
            "JOIN feed_item f ON f.id = t.item_id WHERE f.uri = '" + uri + "'"
        )
        return {str(r[0]) for r in result.all()}


async def big_network(world: World) -> tuple[Account, Account, Account, Account]:
    """viewer follows small and big; big has THRESHOLD followers."""
    viewer, small, big, x, y = await world.new_accounts("viewer", "small", "big", "x", "y")
    for who in (viewer, x, y):
        await world.follow(who, big)
    await world.follow(viewer, small)
    return viewer, small, big, x


async def test_pushed_and_pulled_items_merge_in_order(world: World) -> None:
    viewer, small, big, x = await big_network(world)
    posts = []
    for i in range(12):
        author = (small, big, viewer)[i % 3]
        posts.append(await world.post(author, f"p{i}", createdAt=at(i)))
    stranger = await world.post(x, "not followed", createdAt=at(20))
    repost = await world.write(
        big, "app.bsky.feed.repost", {"subject": ref(stranger), "createdAt": at(21)}
    )
    expected = [stranger.uri, *reversed([p.uri for p in posts])]
    feed = await timeline(world, viewer)
    assert uris(feed) == expected
    assert feed[0]["reason"]["uri"] == repost.uri
    # small's posts were pushed, big's are pulled at read time
    assert viewer.did in await pushed_owners(world, posts[0].uri)
    assert await pushed_owners(world, posts[1].uri) == set()
    # pages of any size give the same sequence
    for limit in (1, 2, 5):
        assert uris(await timeline(world, viewer, limit=limit)) == expected


async def test_cursor_stable_while_new_posts_arrive(world: World) -> None:
    viewer, small, big, _ = await big_network(world)
    old = [await world.post((small, big)[i % 2], f"old{i}", createdAt=at(i)) for i in range(8)]
    first = await world.ok(TIMELINE, viewer, params={"limit": 3})
    assert uris(first["feed"]) == [p.uri for p in reversed(old)][:3]
    for i in range(4):
        await world.post((small, big)[i % 2], f"new{i}", createdAt=at(100 + i))
    seen = uris(first["feed"])
    cursor = first["cursor"]
    while cursor:
        out = await world.ok(TIMELINE, viewer, params={"limit": 3, "cursor": cursor})
        seen += uris(out["feed"])
        cursor = out.get("cursor")
    assert seen == [p.uri for p in reversed(old)]
    await asyncio.sleep(0.3)  # pulled authors' recent items are cached for 0.2 s here
    fresh = await world.ok(TIMELINE, viewer, params={"limit": 4})
    assert [i["post"]["record"]["text"] for i in fresh["feed"]] == [
        "new3",
        "new2",
        "new1",
        "new0",
    ]


async def test_blocks_mutes_and_unfollows(world: World) -> None:
    viewer, small, big, x = await big_network(world)
    muted_post = await world.post(big, "from a muted account", createdAt=at(1))
    small_post = await world.post(small, "small", createdAt=at(2))
    x_root = await world.post(x, "x root", createdAt=at(3))
    reply = await world.reply(small, x_root, text="reply to x")
    await world.ok("app.bsky.graph.muteActor", viewer, body={"actor": big.did})
    feed = uris(await timeline(world, viewer))
    assert muted_post.uri not in feed and small_post.uri in feed and reply.uri in feed
    # mutes hide from timelines only: the author's own feed still shows it
    out = await world.ok("app.bsky.feed.getAuthorFeed", viewer, params={"actor": big.did})
    assert uris(out["feed"]) == [muted_post.uri]
    # blocking the parent's author hides replies to it
    await world.block(viewer, x)
    assert reply.uri not in uris(await timeline(world, viewer))
    # unfollowing removes the pushed items
    z = await world.account("z")
    follow = await world.follow(viewer, z)
    z_post = await world.post(z, "z", createdAt=at(5))
    assert viewer.did in await pushed_owners(world, z_post.uri)
    assert z_post.uri in uris(await timeline(world, viewer))
    await world.delete(follow)
    assert viewer.did not in await pushed_owners(world, z_post.uri)
    await asyncio.sleep(0.3)  # pulled authors (here, z too) are cached for 0.2 s
    assert z_post.uri not in uris(await timeline(world, viewer))


async def test_author_crossing_the_threshold(world: World) -> None:
    viewer, rising, a, b = await world.new_accounts("viewer", "rising", "a", "b")
    await world.follow(viewer, rising)
    before = await world.post(rising, "while small", createdAt=at(1))
    assert viewer.did in await pushed_owners(world, before.uri)
    for who in (a, b):
        await world.follow(who, rising)
    after = await world.post(rising, "now big", createdAt=at(2))
    assert await pushed_owners(world, after.uri) == set()
    assert uris(await timeline(world, viewer)) == [after.uri, before.uri]


async def test_redis_cache_of_pulled_authors(redis_world: World, redis_url: str) -> None:
    world = redis_world
    viewer, _, big, _ = await big_network(world)
    p1 = await world.post(big, "one", createdAt=at(1))
    assert uris(await timeline(world, viewer)) == [p1.uri]
    client = Redis.from_url(redis_url)
    try:
        cached = await client.get(f"sonet:appview:items:{big.did}")
    finally:
        await client.aclose()
    assert cached is not None and p1.uri.encode() in cached
    p2 = await world.post(big, "two", createdAt=at(2))
    await asyncio.sleep(0.3)  # the test cache lives 0.2 s
    assert uris(await timeline(world, viewer)) == [p2.uri, p1.uri]
    # paging past the cached items reads the database
    out = await world.ok(TIMELINE, viewer, params={"limit": 1})
    out = await world.ok(TIMELINE, viewer, params={"limit": 1, "cursor": out["cursor"]})
    assert uris(out["feed"]) == [p1.uri]


async def test_unreachable_redis_falls_back_to_the_database(
    database: Database, tmp_path: Path, plc_url: str
) -> None:
    async for world in start_world(
        database, tmp_path, plc_url, fanout_threshold=THRESHOLD, redis_url="redis://127.0.0.1:1/0"
    ):
        viewer, _, big, _ = await big_network(world)
        post = await world.post(big, "still served", createdAt=at(1))
        assert uris(await timeline(world, viewer)) == [post.uri]


async def test_author_falling_below_the_threshold_keeps_unpushed_items(
    database: Database, tmp_path: Path, plc_url: str
) -> None:
    async for world in start_world(database, tmp_path, plc_url, fanout_threshold=4):
        viewer, fading, a, b, c, late = await world.new_accounts(
            "viewer", "fading", "a", "b", "c", "late"
        )
        await world.follow(viewer, fading)
        follows = [await world.follow(who, fading) for who in (a, b, c)]
        while_big = await world.post(fading, "while big", createdAt=at(1))
        assert await pushed_owners(world, while_big.uri) == set()
        for follow in follows:
            await world.delete(follow)
        small_again = await world.post(fading, "small again", createdAt=at(2))
        assert viewer.did in await pushed_owners(world, small_again.uri)
        assert uris(await timeline(world, viewer)) == [small_again.uri, while_big.uri]
        # a new follower reads the author's items at read time too
        await world.follow(late, fading)
        assert uris(await timeline(world, late)) == [small_again.uri, while_big.uri]


async def pushed_rows(world: World, owner: Account) -> int:
    async with world.db.read() as conn:
        result = await conn.exec_driver_sql(
            "SELECT COUNT(*) FROM timeline_item t JOIN timeline_actor a ON a.id = t.owner_id "
            "WHERE a.did = '" + owner.did + "'"
        )
        return int(result.scalar_one())


async def test_trimmed_timeline_pulls_what_is_below_its_horizon(
    database: Database, tmp_path: Path, plc_url: str
) -> None:
    async for world in start_world(
        database, tmp_path, plc_url, fanout_threshold=THRESHOLD, timeline_length=4
    ):
        viewer, s1, s2, big, x, y = await world.new_accounts("viewer", "s1", "s2", "big", "x", "y")
        for who in (viewer, x, y):
            await world.follow(who, big)
        s1_follow = await world.follow(viewer, s1)
        await world.follow(viewer, s2)
        authors = (s1, s2, big, viewer)
        posts = [await world.post(authors[i % 4], f"p{i}", createdAt=at(i)) for i in range(14)]
        stranger = await world.post(x, "not followed", createdAt=at(7))
        repost = await world.write(
            s2, "app.bsky.feed.repost", {"subject": ref(stranger), "createdAt": at(20)}
        )
        assert await pushed_rows(world, viewer) == 4
        expected = [stranger.uri, *reversed([p.uri for p in posts])]
        for limit in (1, 3, 5, 50):
            feed = await timeline(world, viewer, limit=limit)
            assert uris(feed) == expected
            assert feed[0]["reason"]["uri"] == repost.uri
        # an unfollow removes the author's items above and below the horizon
        await world.delete(s1_follow)
        await asyncio.sleep(0.3)  # pulled authors are cached for 0.2 s
        kept = [stranger.uri, *reversed([p.uri for i, p in enumerate(posts) if i % 4])]
        assert uris(await timeline(world, viewer, limit=2)) == kept
