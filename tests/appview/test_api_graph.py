"""``app.bsky.graph`` over a real loopback AppView: followers and follows, blocks, private
mutes, lists and list blocks, relationships and known followers."""

from __future__ import annotations

from typing import Any

from tests.appview.test_api_support import (  # noqa: F401
    World,
    at,
    fixture_plc_url,
    fixture_world,
)

G = "app.bsky.graph."
MODLIST = "app.bsky.graph.defs#modlist"
CURATELIST = "app.bsky.graph.defs#curatelist"


def dids(profiles: list[dict[str, Any]]) -> list[str]:
    return [p["did"] for p in profiles]


async def test_followers_and_follows(world: World) -> None:
    alice, bob, carol, dan = await world.new_accounts("alice", "bob", "carol", "dan")
    for i, who in enumerate((bob, carol, dan)):
        await world.write(who, "app.bsky.graph.follow", {"subject": alice.did, "createdAt": at(i)})
    await world.follow(alice, bob)
    out = await world.ok(G + "getFollowers", bob, params={"actor": "alice.test"})
    assert out["subject"]["did"] == alice.did
    assert dids(out["followers"]) == [dan.did, carol.did, bob.did]
    assert out["followers"][2]["viewer"] == {
        "muted": False,
        "mutedOnlyReposts": False,
        "mutedOnlyQuoteposts": False,
        "blockedBy": False,
    }
    out = await world.ok(G + "getFollows", None, params={"actor": alice.did})
    assert dids(out["follows"]) == [bob.did]
    # pages
    first = await world.ok(G + "getFollowers", None, params={"actor": alice.did, "limit": 2})
    rest = await world.ok(
        G + "getFollowers", None, params={"actor": alice.did, "cursor": first["cursor"]}
    )
    assert dids(first["followers"]) + dids(rest["followers"]) == [dan.did, carol.did, bob.did]
    assert "cursor" not in rest
    # a follower who blocks the subject is not listed; nor one the viewer blocks
    await world.block(carol, alice)
    await world.block(bob, dan)
    out = await world.ok(G + "getFollowers", bob, params={"actor": alice.did})
    assert dids(out["followers"]) == [bob.did]
    await world.fails(
        G + "getFollowers", None, 400, "InvalidRequest", params={"actor": "nobody.test"}
    )


async def test_blocks_and_private_mutes(world: World) -> None:
    alice, bob, carol = await world.new_accounts("alice", "bob", "carol")
    block = await world.block(alice, bob)
    out = await world.ok(G + "getBlocks", alice)
    assert dids(out["blocks"]) == [bob.did]
    assert out["blocks"][0]["viewer"]["blocking"] == block.uri
    profile = await world.ok("app.bsky.actor.getProfile", bob, params={"actor": alice.did})
    assert profile["viewer"]["blockedBy"] is True and "following" not in profile["viewer"]

    await world.ok(G + "muteActor", alice, body={"actor": "carol.test"})
    await world.ok(G + "muteActor", alice, body={"actor": bob.did, "onlyReposts": True})
    out = await world.ok(G + "getMutes", alice)
    assert dids(out["mutes"]) == [carol.did]
    assert out["mutes"][0]["viewer"]["muted"] is True
    seen = await world.ok("app.bsky.actor.getProfile", alice, params={"actor": bob.did})
    assert seen["viewer"]["mutedOnlyReposts"] is True and seen["viewer"]["muted"] is False
    # mutes are private: nobody else sees them
    seen = await world.ok("app.bsky.actor.getProfile", bob, params={"actor": carol.did})
    assert seen["viewer"]["muted"] is False
    await world.fails(G + "muteActor", alice, 400, "InvalidRequest", body={"actor": alice.did})
    await world.fails(G + "muteActor", alice, 400, "InvalidRequest", body={"actor": "nobody.test"})
    await world.ok(G + "unmuteActor", alice, body={"actor": carol.did})
    assert (await world.ok(G + "getMutes", alice))["mutes"] == []
    await world.fails(G + "getMutes", None, 401, "AuthMissing")


async def test_lists_and_list_blocks(world: World) -> None:
    alice, bob, carol, dan = await world.new_accounts("alice", "bob", "carol", "dan")
    curated = await world.write(
        alice,
        "app.bsky.graph.list",
        {"name": "friends", "purpose": CURATELIST, "description": "my friends"},
    )
    modlist = await world.write(alice, "app.bsky.graph.list", {"name": "spam", "purpose": MODLIST})
    for member in (bob, carol):
        await world.write(
            alice, "app.bsky.graph.listitem", {"subject": member.did, "list": curated.uri}
        )
    await world.write(alice, "app.bsky.graph.listitem", {"subject": dan.did, "list": modlist.uri})
    out = await world.ok(G + "getList", dan, params={"list": curated.uri})
    assert out["list"]["name"] == "friends" and out["list"]["listItemCount"] == 2
    assert out["list"]["creator"]["did"] == alice.did
    assert set(dids([i["subject"] for i in out["items"]])) == {bob.did, carol.did}
    # a member who blocks the creator is left out of a curated list (except for the creator)
    await world.block(carol, alice)
    out = await world.ok(G + "getList", dan, params={"list": curated.uri})
    assert dids([i["subject"] for i in out["items"]]) == [bob.did]
    out = await world.ok(G + "getList", alice, params={"list": curated.uri})
    assert len(out["items"]) == 2
    await world.fails(
        G + "getList", None, 400, "InvalidRequest", params={"list": curated.uri + "x"}
    )

    out = await world.ok(G + "getLists", None, params={"actor": alice.did})
    assert {lst["uri"] for lst in out["lists"]} == {curated.uri, modlist.uri}
    out = await world.ok(G + "getLists", None, params={"actor": alice.did, "purposes": ["modlist"]})
    assert [lst["uri"] for lst in out["lists"]] == [modlist.uri]

    # bob subscribes to alice's moderation list: dan is blocked for bob, both ways
    sub = await world.write(bob, "app.bsky.graph.listblock", {"subject": modlist.uri})
    seen = await world.ok("app.bsky.actor.getProfile", bob, params={"actor": dan.did})
    assert seen["viewer"]["blocking"] == modlist.uri
    assert seen["viewer"]["blockingByList"]["uri"] == modlist.uri
    assert seen["viewer"]["blockingByList"]["viewer"]["blocked"] == sub.uri
    seen = await world.ok("app.bsky.actor.getProfile", dan, params={"actor": bob.did})
    assert seen["viewer"]["blockedBy"] is True
    rel = await world.ok(G + "getRelationships", params={"actor": bob.did, "others": [dan.did]})
    assert rel["relationships"][0]["blockingByList"] == modlist.uri


async def test_relationships_and_known_followers(world: World) -> None:
    alice, bob, carol, dan = await world.new_accounts("alice", "bob", "carol", "dan")
    f1 = await world.follow(alice, bob)
    f2 = await world.follow(bob, alice)
    b1 = await world.block(alice, carol)
    out = await world.ok(
        G + "getRelationships",
        params={"actor": "alice.test", "others": [bob.did, "carol.test", "nobody.test"]},
    )
    assert out["actor"] == alice.did
    assert out["relationships"] == [
        {
            "$type": "app.bsky.graph.defs#relationship",
            "did": bob.did,
            "following": f1.uri,
            "followedBy": f2.uri,
        },
        {"$type": "app.bsky.graph.defs#relationship", "did": carol.did, "blocking": b1.uri},
        {"$type": "app.bsky.graph.defs#notFoundActor", "actor": "nobody.test", "notFound": True},
    ]
    out = await world.ok(
        G + "getRelationships", params={"actor": "nobody.test", "others": [bob.did]}
    )
    assert "actor" not in out and out["relationships"][0]["notFound"] is True

    # dan follows bob and carol; both follow alice: they are dan's known followers of alice
    await world.follow(dan, carol)
    await world.follow(carol, alice)
    out = await world.ok(G + "getKnownFollowers", dan, params={"actor": alice.did})
    assert out["subject"]["did"] == alice.did
    assert dids(out["followers"]) == [carol.did]
    await world.follow(dan, bob)
    profile = await world.ok("app.bsky.actor.getProfile", dan, params={"actor": alice.did})
    known = profile["viewer"]["knownFollowers"]
    # carol, whom alice blocks, counts but is not shown
    assert known["count"] == 2 and dids(known["followers"]) == [bob.did]
