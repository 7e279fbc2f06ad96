"""Post views as the reference AppView builds them: media embeds, record embeds two levels
deep, blocked/detached/not-found embeds, postgates, embedded generators/lists/starter packs,
and reply context in feeds (blocked, missing and grandparent authors)."""

from __future__ import annotations

from typing import Any

from tests.appview.test_api_support import (  # noqa: F401
    World,
    blob_ref,
    fixture_plc_url,
    fixture_world,
    ref,
)

REC = "app.bsky.embed.record"


def record_embed(subject: Any) -> dict[str, Any]:
    return {"$type": REC, "record": ref(subject)}


async def post_views(world: World, viewer: Any, *posts: Any) -> list[dict[str, Any]]:
    out = await world.ok("app.bsky.feed.getPosts", viewer, params={"uris": [p.uri for p in posts]})
    return list(out["posts"])


async def test_media_embeds(world: World) -> None:
    alice = await world.account("alice")
    img = world.blobs.put(alice.did, b"img")
    images = {
        "$type": "app.bsky.embed.images",
        "images": [
            {"image": blob_ref(img), "alt": "cat", "aspectRatio": {"width": 4, "height": 3}}
        ],
    }
    external = {
        "$type": "app.bsky.embed.external",
        "external": {
            "uri": "https://example.com",
            "title": "T",
            "description": "D",
            "thumb": blob_ref(img),
        },
    }
    video = {"$type": "app.bsky.embed.video", "video": blob_ref(img, "video/mp4"), "alt": "v"}
    posts = [await world.post(alice, "m", embed=e) for e in (images, external, video)]
    [pi, pe, pv] = await post_views(world, None, *posts)
    base = f"http://appview.test/img/%s/plain/{alice.did}/{img}@jpeg"
    assert pi["embed"] == {
        "$type": "app.bsky.embed.images#view",
        "images": [
            {
                "thumb": base % "feed_thumbnail",
                "fullsize": base % "feed_fullsize",
                "alt": "cat",
                "aspectRatio": {"width": 4, "height": 3},
            }
        ],
    }
    assert pe["embed"]["external"] == {
        "uri": "https://example.com",
        "title": "T",
        "description": "D",
        "thumb": base % "feed_thumbnail",
    }
    assert pv["embed"]["$type"] == "app.bsky.embed.video#view" and pv["embed"]["cid"] == img


async def test_record_embeds_nest_two_levels(world: World) -> None:
    alice, bob = await world.new_accounts("alice", "bob")
    img = world.blobs.put(alice.did, b"img")
    images = {"$type": "app.bsky.embed.images", "images": [{"image": blob_ref(img), "alt": ""}]}
    q0 = await world.post(alice, "original", embed=images)
    q1 = await world.post(bob, "quote", embed=record_embed(q0))
    q2 = await world.post(alice, "quote of quote", embed=record_embed(q1))
    media = {"$type": "app.bsky.embed.recordWithMedia", "record": record_embed(q0), "media": images}
    rwm = await world.post(bob, "with media", embed=media)
    [v2, vm] = await post_views(world, None, q2, rwm)
    level1 = v2["embed"]["record"]
    assert level1["$type"] == f"{REC}#viewRecord" and level1["uri"] == q1.uri
    [level2] = level1["embeds"]
    assert level2["record"]["uri"] == q0.uri and "embeds" not in level2["record"]
    assert vm["embed"]["$type"] == "app.bsky.embed.recordWithMedia#view"
    assert vm["embed"]["media"]["$type"] == "app.bsky.embed.images#view"
    assert vm["embed"]["record"]["record"]["uri"] == q0.uri
    assert vm["embed"]["record"]["record"]["embeds"][0]["$type"] == "app.bsky.embed.images#view"


async def test_blocked_detached_and_missing_embeds(world: World) -> None:
    alice, bob, carol, dan = await world.new_accounts("alice", "bob", "carol", "dan")
    original = await world.post(alice, "original")
    gated = await world.post(alice, "no quotes please")
    await world.write(
        alice,
        "app.bsky.feed.postgate",
        {"post": gated.uri, "embeddingRules": [{"$type": "app.bsky.feed.postgate#disableRule"}]},
        rkey=gated.rkey,
    )
    by_bob = await world.post(bob, "quoting", embed=record_embed(original))
    refused = await world.post(bob, "quoting anyway", embed=record_embed(gated))
    await world.block(carol, alice)
    by_carol = await world.post(carol, "quoting someone I block", embed=record_embed(original))
    ghost = await world.post(dan, "temp")
    to_ghost = await world.post(dan, "quoting a deleted post", embed=record_embed(ghost))
    await world.delete(ghost)
    await world.block(dan, alice)

    views = await post_views(world, dan, by_bob, refused, by_carol, to_ghost)
    kinds = [v["embed"]["record"]["$type"].split("#")[1] for v in views]
    # blocks come first: dan blocks alice, whose gated post bob quoted
    assert kinds == ["viewBlocked", "viewBlocked", "viewBlocked", "viewNotFound"]
    assert views[0]["embed"]["record"]["author"]["did"] == alice.did
    assert views[0]["embed"]["record"]["author"]["viewer"]["blocking"]
    # without a viewer, only the third-party block remains
    views = await post_views(world, None, by_bob, refused, by_carol)
    assert [v["embed"]["record"]["$type"].split("#")[1] for v in views] == [
        "viewRecord",
        "viewDetached",
        "viewBlocked",
    ]
    [gated_view] = await post_views(world, bob, gated)
    assert gated_view["viewer"]["embeddingDisabled"] is True
    [gated_view] = await post_views(world, alice, gated)
    assert gated_view["viewer"]["embeddingDisabled"] is False
    # detaching a quote after the fact
    await world.write(
        alice,
        "app.bsky.feed.postgate",
        {"post": original.uri, "detachedEmbeddingUris": [by_bob.uri]},
        rkey=original.rkey,
    )
    [view] = await post_views(world, None, by_bob)
    assert view["embed"]["record"]["$type"] == f"{REC}#viewDetached"


async def test_embedded_generators_lists_and_packs(world: World) -> None:
    alice = await world.account("alice")
    gen = await world.write(
        alice, "app.bsky.feed.generator", {"did": "did:web:fg.test", "displayName": "G"}
    )
    lst = await world.write(
        alice, "app.bsky.graph.list", {"name": "L", "purpose": "app.bsky.graph.defs#curatelist"}
    )
    pack = await world.write(alice, "app.bsky.graph.starterpack", {"name": "P", "list": lst.uri})
    posts = [await world.post(alice, "see", embed=record_embed(s)) for s in (gen, lst, pack)]
    views = await post_views(world, None, *posts)
    assert [v["embed"]["record"]["$type"] for v in views] == [
        "app.bsky.feed.defs#generatorView",
        "app.bsky.graph.defs#listView",
        "app.bsky.graph.defs#starterPackViewBasic",
    ]


async def test_reply_context_in_feeds(world: World) -> None:
    alice, bob, carol, dan = await world.new_accounts("alice", "bob", "carol", "dan")
    root = await world.post(alice, "root")
    mid = await world.reply(bob, root)
    leaf = await world.reply(carol, mid, root)
    out = await world.ok("app.bsky.feed.getAuthorFeed", dan, params={"actor": carol.did})
    reply = out["feed"][0]["reply"]
    assert reply["root"]["uri"] == root.uri and reply["parent"]["uri"] == mid.uri
    assert reply["grandparentAuthor"]["did"] == alice.did
    # the viewer blocks the root's author: the root is a blocked post, the item still shown
    await world.block(dan, alice)
    out = await world.ok("app.bsky.feed.getAuthorFeed", dan, params={"actor": carol.did})
    reply = out["feed"][0]["reply"]
    assert reply["root"]["$type"] == "app.bsky.feed.defs#blockedPost"
    # the parent deleted: not found
    await world.delete(mid)
    out = await world.ok("app.bsky.feed.getAuthorFeed", None, params={"actor": carol.did})
    [item] = out["feed"]
    assert item["post"]["uri"] == leaf.uri
    assert item["reply"]["parent"] == {
        "$type": "app.bsky.feed.defs#notFoundPost",
        "uri": mid.uri,
        "notFound": True,
    }
