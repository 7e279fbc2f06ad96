"""``app.bsky.feed`` reads over a real loopback AppView: author feeds and their filters, pins,
posts, likes, reposts, quotes, an actor's likes, blocks applied as the reference AppView does;
every output validated against its lexicon."""

from __future__ import annotations

from typing import Any

from tests.appview.test_api_support import (  # noqa: F401
    World,
    at,
    blob_ref,
    fixture_plc_url,
    fixture_world,
    ref,
)

AUTHOR_FEED = "app.bsky.feed.getAuthorFeed"


def uris(feed: list[dict[str, Any]]) -> list[str]:
    return [item["post"]["uri"] for item in feed]


async def all_pages(world: World, nsid: str, key: str, as_: Any, **params: Any) -> list[Any]:
    items: list[Any] = []
    cursor = None
    for _ in range(20):
        out = await world.ok(nsid, as_, params={**params, **({"cursor": cursor} if cursor else {})})
        items += out[key]
        cursor = out.get("cursor")
        if not cursor:
            return items
    raise AssertionError("too many pages")


async def test_author_feed_filters_pins_and_pages(world: World) -> None:
    alice, bob = await world.account("alice"), await world.account("bob")
    img = world.blobs.put(alice.did, b"png")
    bob_post = await world.post(bob, "bob's", createdAt=at(0))
    p1 = await world.post(alice, "first", createdAt=at(1))
    images = {"$type": "app.bsky.embed.images", "images": [{"image": blob_ref(img), "alt": "a"}]}
    p2 = await world.post(alice, "pic", embed=images, createdAt=at(2))
    self_reply = await world.post(
        alice, "more", reply={"root": ref(p1), "parent": ref(p1)}, createdAt=at(3)
    )
    other_reply = await world.post(
        alice, "hey bob", reply={"root": ref(bob_post), "parent": ref(bob_post)}, createdAt=at(4)
    )
    video = {"$type": "app.bsky.embed.video", "video": blob_ref(img, "video/mp4")}
    p5 = await world.post(alice, "clip", embed=video, createdAt=at(5))
    repost = await world.write(
        alice, "app.bsky.feed.repost", {"subject": ref(bob_post), "createdAt": at(6)}
    )

    async def feed(filter_: str, **params: Any) -> list[dict[str, Any]]:
        out = await world.ok(
            AUTHOR_FEED, bob, params={"actor": "alice.test", "filter": filter_, **params}
        )
        return list(out["feed"])

    everything = await feed("posts_with_replies")
    assert uris(everything) == [
        bob_post.uri,
        p5.uri,
        other_reply.uri,
        self_reply.uri,
        p2.uri,
        p1.uri,
    ]
    assert everything[0]["reason"]["$type"] == "app.bsky.feed.defs#reasonRepost"
    assert everything[0]["reason"]["uri"] == repost.uri
    assert everything[0]["reason"]["by"]["did"] == alice.did
    assert everything[2]["reply"]["parent"]["uri"] == bob_post.uri
    assert everything[2]["reply"]["root"]["$type"] == "app.bsky.feed.defs#postView"
    assert uris(await feed("posts_no_replies")) == [bob_post.uri, p5.uri, p2.uri, p1.uri]
    media = await feed("posts_with_media")
    assert uris(media) == [p2.uri]
    thumb = media[0]["post"]["embed"]["images"][0]["thumb"]
    assert thumb == f"http://appview.test/img/feed_thumbnail/plain/{alice.did}/{img}@jpeg"
    assert uris(await feed("posts_with_video")) == [p5.uri]
    assert uris(await feed("posts_and_author_threads")) == [
        bob_post.uri,
        p5.uri,
        self_reply.uri,
        p2.uri,
        p1.uri,
    ]

    # a pinned post comes first (once) on the first page only
    await world.profile(alice, pinnedPost=ref(p2))
    pinned = await feed("posts_with_replies", includePins=True)
    assert uris(pinned)[:2] == [p2.uri, bob_post.uri]
    assert pinned[0]["reason"] == {"$type": "app.bsky.feed.defs#reasonPin"}
    assert uris(pinned).count(p2.uri) == 1

    # pages of two cover everything once
    paged = await all_pages(world, AUTHOR_FEED, "feed", bob, actor=alice.did, limit=2)
    assert uris(paged) == uris(everything)


async def test_author_feed_blocks_and_errors(world: World) -> None:
    alice, bob, carol = await world.new_accounts("alice", "bob", "carol")
    await world.post(alice, "hi")
    await world.block(bob, alice)
    await world.fails(AUTHOR_FEED, alice, 400, "BlockedByActor", params={"actor": bob.did})
    await world.fails(AUTHOR_FEED, bob, 400, "BlockedActor", params={"actor": alice.did})
    await world.fails(AUTHOR_FEED, carol, 400, "InvalidRequest", params={"actor": "nobody.test"})
    await world.fails(
        AUTHOR_FEED, carol, 400, "InvalidRequest", params={"actor": alice.did, "cursor": "bad"}
    )
    out = await world.ok(AUTHOR_FEED, carol, params={"actor": alice.did, "cursor": "1::2"})
    assert out == {"feed": []}
    # a muted author's own posts still show on their profile; reposts of blocked accounts do not
    await world.write(carol, "app.bsky.graph.block", {"subject": bob.did})
    bob_post = await world.post(bob, "bob")
    await world.repost(alice, bob_post)
    out = await world.ok(AUTHOR_FEED, carol, params={"actor": alice.did})
    assert bob_post.uri not in uris(out["feed"])
    await world.ok("app.bsky.graph.muteActor", carol, body={"actor": alice.did})
    out = await world.ok(AUTHOR_FEED, carol, params={"actor": alice.did})
    assert len(out["feed"]) == 1


async def test_posts_likes_reposts_quotes(world: World) -> None:
    alice, bob, carol, dan = await world.new_accounts("alice", "bob", "carol", "dan")
    post = await world.post(alice, "popular", createdAt=at(1))
    like_b = await world.like(bob, post)
    await world.like(carol, post)
    await world.repost(bob, post)
    quote_embed = {"$type": "app.bsky.embed.record", "record": ref(post)}
    quote = await world.post(carol, "look", embed=quote_embed, createdAt=at(2))

    out = await world.ok(
        "app.bsky.feed.getPosts", bob, params={"uris": [quote.uri, post.uri, post.uri]}
    )
    assert [p["uri"] for p in out["posts"]] == [quote.uri, post.uri]
    viewed = out["posts"][1]
    assert (viewed["likeCount"], viewed["repostCount"], viewed["quoteCount"]) == (2, 1, 1)
    assert viewed["viewer"]["like"] == like_b.uri
    assert "repost" in viewed["viewer"]
    embedded = out["posts"][0]["embed"]
    assert embedded["$type"] == "app.bsky.embed.record#view"
    assert embedded["record"]["$type"] == "app.bsky.embed.record#viewRecord"
    assert embedded["record"]["uri"] == post.uri and embedded["record"]["likeCount"] == 2

    likes = await world.ok("app.bsky.feed.getLikes", dan, params={"uri": post.uri})
    assert {like["actor"]["did"] for like in likes["likes"]} == {bob.did, carol.did}
    assert all(like["createdAt"] and like["indexedAt"] for like in likes["likes"])
    reposted = await world.ok(
        "app.bsky.feed.getRepostedBy", dan, params={"uri": post.uri, "cid": post.cid}
    )
    assert [p["did"] for p in reposted["repostedBy"]] == [bob.did]
    assert reposted["cid"] == post.cid
    quotes = await world.ok("app.bsky.feed.getQuotes", dan, params={"uri": post.uri})
    assert [p["uri"] for p in quotes["posts"]] == [quote.uri]

    # a liker who blocks the post's author is not listed; nor are accounts the viewer blocks
    await world.block(bob, alice)
    likes = await world.ok("app.bsky.feed.getLikes", dan, params={"uri": post.uri})
    assert [like["actor"]["did"] for like in likes["likes"]] == [carol.did]
    await world.block(dan, carol)
    likes = await world.ok("app.bsky.feed.getLikes", dan, params={"uri": post.uri})
    assert likes["likes"] == []
    quotes = await world.ok("app.bsky.feed.getQuotes", dan, params={"uri": post.uri})
    assert quotes["posts"] == []
    out = await world.ok("app.bsky.feed.getPosts", dan, params={"uris": [quote.uri]})
    assert out["posts"] == []


async def test_actor_likes_only_for_oneself(world: World) -> None:
    alice, bob = await world.account("alice"), await world.account("bob")
    p1 = await world.post(alice, "one", createdAt=at(1))
    p2 = await world.post(alice, "two", createdAt=at(2))
    await world.write(bob, "app.bsky.feed.like", {"subject": ref(p1), "createdAt": at(3)})
    await world.write(bob, "app.bsky.feed.like", {"subject": ref(p2), "createdAt": at(4)})
    out = await world.ok("app.bsky.feed.getActorLikes", bob, params={"actor": bob.did})
    assert uris(out["feed"]) == [p2.uri, p1.uri]
    assert all("like" in item["post"]["viewer"] for item in out["feed"])
    await world.fails(
        "app.bsky.feed.getActorLikes", alice, 400, "InvalidRequest", params={"actor": bob.did}
    )
    await world.fails(
        "app.bsky.feed.getActorLikes", None, 400, "InvalidRequest", params={"actor": bob.did}
    )


async def test_viewer_repo_rev_header(world: World) -> None:
    alice = await world.account("alice")
    await world.post(alice, "hi")
    async with world.db.read() as conn:
        rev = (
            await conn.exec_driver_sql(f"SELECT repo_rev FROM actor WHERE did = '{alice.did}'")
        ).scalar()
    for nsid, params in (
        ("app.bsky.feed.getTimeline", {}),
        ("app.bsky.actor.getProfile", {"actor": alice.did}),
        (AUTHOR_FEED, {"actor": alice.did}),
    ):
        headers = {"Authorization": f"Bearer {world.token(alice, nsid)}"}
        resp = await world.client.get(f"/xrpc/{nsid}", params=params, headers=headers)
        assert resp.status == 200 and resp.headers["Atproto-Repo-Rev"] == rev
    resp = await world.client.get(f"/xrpc/{AUTHOR_FEED}", params={"actor": alice.did})
    assert "Atproto-Repo-Rev" not in resp.headers
