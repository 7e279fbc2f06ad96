"""``app.bsky.feed.getPostThread`` edge cases: depth and parent height, missing parents,
blocked replies (by the viewer and between authors), threadgates, huge threads."""

from __future__ import annotations

from typing import Any

from tests.appview.test_api_support import (  # noqa: F401
    World,
    at,
    fixture_plc_url,
    fixture_world,
    ref,
)

THREAD = "app.bsky.feed.getPostThread"
DEFS = "app.bsky.feed.defs"


def kind(node: dict[str, Any]) -> str:
    return str(node["$type"]).removeprefix(f"{DEFS}#")


def reply_uris(node: dict[str, Any]) -> list[str]:
    return [r.get("post", r)["uri"] for r in node.get("replies", [])]


async def test_thread_shape_depth_and_height(world: World) -> None:
    alice, bob, carol = await world.new_accounts("alice", "bob", "carol")
    root = await world.post(alice, "root", createdAt=at(1))
    r1 = await world.reply(bob, root, text="r1")
    r2 = await world.reply(carol, r1, root, text="r2")
    r3 = await world.reply(alice, root, text="r3")

    out = await world.ok(THREAD, carol, params={"uri": r1.uri})
    thread = out["thread"]
    assert kind(thread) == "threadViewPost" and thread["post"]["uri"] == r1.uri
    assert thread["parent"]["post"]["uri"] == root.uri
    assert "parent" not in thread["parent"]
    assert reply_uris(thread) == [r2.uri]
    assert thread["post"]["replyCount"] == 1

    out = await world.ok(THREAD, None, params={"uri": root.uri})
    assert set(reply_uris(out["thread"])) == {r1.uri, r3.uri}
    nested = {r["post"]["uri"]: r for r in out["thread"]["replies"]}
    assert reply_uris(nested[r1.uri]) == [r2.uri]

    out = await world.ok(THREAD, None, params={"uri": r2.uri, "parentHeight": 1, "depth": 0})
    assert out["thread"]["parent"]["post"]["uri"] == r1.uri
    assert "parent" not in out["thread"]["parent"]
    assert "replies" not in out["thread"]
    # a handle in the URI is resolved
    by_handle = root.uri.replace(alice.did, "alice.test")
    out = await world.ok(THREAD, None, params={"uri": by_handle, "depth": 0})
    assert out["thread"]["post"]["uri"] == root.uri


async def test_missing_parent_and_anchor(world: World) -> None:
    alice, bob = await world.new_accounts("alice", "bob")
    ghost = {
        "uri": f"at://{alice.did}/app.bsky.feed.post/3kghostghost2",
        "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
    }
    orphan = await world.post(bob, "orphan", reply={"root": ghost, "parent": ghost})
    out = await world.ok(THREAD, None, params={"uri": orphan.uri})
    assert out["thread"]["parent"] == {
        "$type": f"{DEFS}#notFoundPost",
        "uri": ghost["uri"],
        "notFound": True,
    }
    await world.fails(THREAD, None, 400, "NotFound", params={"uri": ghost["uri"]})
    # a deleted parent becomes not found
    root = await world.post(alice, "root")
    child = await world.reply(bob, root)
    await world.delete(root)
    out = await world.ok(THREAD, None, params={"uri": child.uri})
    assert kind(out["thread"]["parent"]) == "notFoundPost"


async def test_blocked_replies_and_anchors(world: World) -> None:
    alice, bob, dan, eve = await world.new_accounts("alice", "bob", "dan", "eve")
    root = await world.post(alice, "root")
    by_dan = await world.reply(dan, root, text="dan")
    await world.block(eve, alice)
    by_eve = await world.reply(eve, root, text="eve")
    await world.block(bob, dan)

    out = await world.ok(THREAD, bob, params={"uri": root.uri})
    replies = out["thread"]["replies"]
    # bob blocks dan: dan's reply is a blocked node; eve blocks alice: eve's reply is left out
    assert [(kind(r), r.get("uri") or r["post"]["uri"]) for r in replies] == [
        ("blockedPost", by_dan.uri)
    ]
    assert replies[0]["author"]["did"] == dan.did
    assert replies[0]["author"]["viewer"]["blocking"]
    # from eve's reply, the root (whose author eve blocks) is a blocked parent
    out = await world.ok(THREAD, None, params={"uri": by_eve.uri})
    assert kind(out["thread"]["parent"]) == "blockedPost"
    # an anchor by an account the viewer blocks is a blocked node, not an error
    out = await world.ok(THREAD, bob, params={"uri": by_dan.uri})
    assert kind(out["thread"]) == "blockedPost"
    # unauthenticated viewers see dan's reply
    out = await world.ok(THREAD, None, params={"uri": root.uri})
    assert reply_uris(out["thread"]) == [by_dan.uri]


async def test_threadgate(world: World) -> None:
    alice, bob = await world.new_accounts("alice", "bob")
    root = await world.post(alice, "gated")
    gate = await world.write(
        alice,
        "app.bsky.feed.threadgate",
        {"post": root.uri, "allow": []},
        rkey=root.rkey,
    )
    own = await world.reply(alice, root, text="mine")
    refused = await world.reply(bob, root, text="not allowed")
    out = await world.ok(THREAD, bob, params={"uri": root.uri})
    assert reply_uris(out["thread"]) == [own.uri]
    assert out["threadgate"]["uri"] == gate.uri
    assert out["thread"]["post"]["threadgate"]["uri"] == gate.uri
    assert out["thread"]["post"]["viewer"]["replyDisabled"] is True
    assert out["thread"]["post"]["replyCount"] == 1
    out = await world.ok(THREAD, alice, params={"uri": root.uri})
    assert out["thread"]["post"]["viewer"]["replyDisabled"] is False
    # the refused reply shows neither its parent nor replies
    out = await world.ok(THREAD, bob, params={"uri": refused.uri})
    assert "parent" not in out["thread"] and "replies" not in out["thread"]


async def test_huge_thread_is_bounded(world: World) -> None:
    alice, bob = await world.new_accounts("alice", "bob")
    root = await world.post(alice, "root")
    parent, chain, wide = root, [], []
    for i in range(30):
        reply = {"root": ref(root), "parent": ref(parent)}
        parent = world.build(
            bob if i % 2 else alice, "app.bsky.feed.post", {"text": f"c{i}", "reply": reply}
        )
        chain.append(parent)
    for i in range(120):
        reply = {"root": ref(root), "parent": ref(root)}
        wide.append(world.build(bob, "app.bsky.feed.post", {"text": f"w{i}", "reply": reply}))
    await world.commit(*chain, *wide)

    out = await world.ok(THREAD, None, params={"uri": root.uri, "depth": 4})
    replies = out["thread"]["replies"]
    assert len(replies) == 121
    deepest, node = 0, next(r for r in replies if r["post"]["uri"] == chain[0].uri)
    while node.get("replies"):
        node = node["replies"][0]
        deepest += 1
    assert deepest == 3
    assert set(reply_uris(out["thread"])) == {chain[0].uri, *(w.uri for w in wide)}

    out = await world.ok(THREAD, None, params={"uri": chain[-1].uri, "parentHeight": 5})
    height, node = 0, out["thread"]
    while "parent" in node:
        node = node["parent"]
        height += 1
    assert height == 5
    out = await world.ok(THREAD, None, params={"uri": chain[-1].uri, "parentHeight": 1000})
    height, node = 0, out["thread"]
    while "parent" in node:
        node = node["parent"]
        height += 1
    assert height == 30
