"""``app.bsky.notification``: listNotifications (every reason, ``reasons`` filter, pages, read
state), getUnreadCount and updateSeen; blocks, mutes and deleted records applied."""

from __future__ import annotations

from typing import Any

from tests.appview.test_api_support import (  # noqa: F401
    World,
    at,
    fixture_plc_url,
    fixture_world,
    ref,
)

N = "app.bsky.notification."


def reasons(notifs: list[dict[str, Any]]) -> list[str]:
    return [n["reason"] for n in notifs]


async def test_notifications_reasons_reads_and_pages(world: World) -> None:
    alice, bob, carol = await world.new_accounts("alice", "bob", "carol")
    post = await world.post(alice, "hello", createdAt=at(0))
    like = await world.write(bob, "app.bsky.feed.like", {"subject": ref(post), "createdAt": at(1)})
    await world.write(bob, "app.bsky.feed.repost", {"subject": ref(post), "createdAt": at(2)})
    await world.write(bob, "app.bsky.graph.follow", {"subject": alice.did, "createdAt": at(3)})
    reply = {"root": ref(post), "parent": ref(post)}
    await world.post(bob, "re", reply=reply, createdAt=at(4))
    quote = {"$type": "app.bsky.embed.record", "record": ref(post)}
    await world.post(carol, "look", embed=quote, createdAt=at(5))
    mention = {
        "index": {"byteStart": 0, "byteEnd": 6},
        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": alice.did}],
    }
    await world.post(carol, "@alice hi", facets=[mention], createdAt=at(6))

    out = await world.ok(N + "listNotifications", alice)
    notifs = out["notifications"]
    assert reasons(notifs) == ["mention", "quote", "reply", "follow", "repost", "like"]
    assert [n["isRead"] for n in notifs] == [False, True, True, True, True, True]
    assert out["seenAt"] == at(6) and out["priority"] is False
    assert notifs[-1]["uri"] == like.uri and notifs[-1]["reasonSubject"] == post.uri
    assert notifs[-1]["author"]["did"] == bob.did
    assert notifs[-1]["record"]["$type"] == "app.bsky.feed.like"
    assert "reasonSubject" not in notifs[3]

    only = await world.ok(N + "listNotifications", alice, params={"reasons": ["like", "follow"]})
    assert reasons(only["notifications"]) == ["follow", "like"]
    first = await world.ok(N + "listNotifications", alice, params={"limit": 4})
    rest = await world.ok(
        N + "listNotifications", alice, params={"limit": 4, "cursor": first["cursor"]}
    )
    assert reasons(first["notifications"] + rest["notifications"]) == reasons(notifs)

    assert (await world.ok(N + "getUnreadCount", alice))["count"] == 6
    await world.ok(N + "updateSeen", alice, body={"seenAt": at(3)})
    assert (await world.ok(N + "getUnreadCount", alice))["count"] == 3
    out = await world.ok(N + "listNotifications", alice)
    assert [n["isRead"] for n in out["notifications"]] == [False, False, False, False, True, True]
    assert out["seenAt"] == at(3)

    await world.fails(
        N + "listNotifications", alice, 400, "InvalidRequest", params={"seenAt": at(1)}
    )
    await world.fails(N + "getUnreadCount", alice, 400, "InvalidRequest", params={"seenAt": at(1)})
    await world.fails(N + "updateSeen", alice, 400, "InvalidRequest", body={"seenAt": "yesterday"})
    await world.fails(N + "getUnreadCount", None, 401, "AuthMissing")


async def test_notifications_hidden_by_blocks_mutes_and_deletes(world: World) -> None:
    alice, bob, carol = await world.new_accounts("alice", "bob", "carol")
    post = await world.post(alice, "hello", createdAt=at(0))
    like_b = await world.write(
        bob, "app.bsky.feed.like", {"subject": ref(post), "createdAt": at(1)}
    )
    await world.write(carol, "app.bsky.feed.like", {"subject": ref(post), "createdAt": at(2)})
    await world.write(carol, "app.bsky.graph.follow", {"subject": alice.did, "createdAt": at(3)})

    await world.ok("app.bsky.graph.muteActor", alice, body={"actor": carol.did})
    out = await world.ok(N + "listNotifications", alice)
    assert [n["uri"] for n in out["notifications"]] == [like_b.uri]
    await world.ok("app.bsky.graph.unmuteActor", alice, body={"actor": carol.did})
    await world.block(carol, alice)
    out = await world.ok(N + "listNotifications", alice)
    assert [n["author"]["did"] for n in out["notifications"]] == [bob.did]
    await world.delete(like_b)
    out = await world.ok(N + "listNotifications", alice)
    assert out["notifications"] == []
    # the liked post deleted: its likes' notifications go too
    await world.like(bob, post)
    await world.delete(post)
    out = await world.ok(N + "listNotifications", alice)
    assert out["notifications"] == []
