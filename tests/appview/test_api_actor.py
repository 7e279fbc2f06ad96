"""``app.bsky.actor`` reads: detailed profiles (counts, pins, hidden accounts, invalid
handles), several profiles, actor search and typeahead, follow suggestions."""

from __future__ import annotations

from sonet.appview.ingest.actors import set_handle
from sonet.appview.ingest.events import AccountChange
from sonet.appview.ingest.times import now_iso
from tests.appview.test_api_support import (  # noqa: F401
    World,
    blob_ref,
    fixture_plc_url,
    fixture_world,
    ref,
)

A = "app.bsky.actor."


async def test_profile_detailed(world: World) -> None:
    alice, bob = await world.new_accounts("alice", "bob")
    avatar = world.blobs.put(alice.did, b"avatar")
    banner = world.blobs.put(alice.did, b"banner")
    post = await world.post(alice, "pinned")
    await world.profile(
        alice,
        displayName="Alice",
        description="Hello there",
        avatar=blob_ref(avatar),
        banner=blob_ref(banner),
        website="https://alice.example",
        pinnedPost=ref(post),
        labels={"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "porn"}]},
    )
    await world.write(
        alice, "app.bsky.graph.list", {"name": "l", "purpose": "app.bsky.graph.defs#curatelist"}
    )
    await world.follow(bob, alice)
    out = await world.ok(A + "getProfile", bob, params={"actor": "alice.test"})
    assert out["did"] == alice.did and out["handle"] == "alice.test"
    assert out["displayName"] == "Alice" and out["description"] == "Hello there"
    assert out["avatar"] == f"http://appview.test/img/avatar/plain/{alice.did}/{avatar}@jpeg"
    assert out["banner"] == f"http://appview.test/img/banner/plain/{alice.did}/{banner}@jpeg"
    assert out["website"] == "https://alice.example"
    assert (out["followersCount"], out["followsCount"], out["postsCount"]) == (1, 0, 1)
    assert out["associated"]["lists"] == 1
    assert out["pinnedPost"] == ref(post)
    assert out["viewer"]["following"]
    assert [label["val"] for label in out["labels"]] == ["porn"]
    # a viewer following itself would not be shown: viewing oneself has no follow state
    own = await world.ok(A + "getProfile", alice, params={"actor": alice.did})
    assert "following" not in own["viewer"] and own["viewer"]["muted"] is False


async def test_hidden_accounts_and_invalid_handles(world: World) -> None:
    alice, bob, carol = await world.new_accounts("alice", "bob", "carol")
    await world.post(carol, "still here")
    await world.apply(AccountChange(None, alice.did, False, "deactivated"))
    await world.apply(AccountChange(None, bob.did, False, "takendown"))
    await world.fails(
        A + "getProfile", carol, 400, "AccountDeactivated", params={"actor": alice.did}
    )
    await world.fails(A + "getProfile", carol, 400, "AccountTakedown", params={"actor": bob.did})
    await world.fails(
        A + "getProfile", carol, 400, "InvalidRequest", params={"actor": "did:plc:nobody"}
    )
    out = await world.ok(
        A + "getProfiles", carol, params={"actors": [alice.did, bob.did, carol.did]}
    )
    assert [p["did"] for p in out["profiles"]] == [carol.did]
    await world.indexer.run(set_handle(carol.did, None, now_iso()))
    out = await world.ok(A + "getProfile", None, params={"actor": carol.did})
    assert out["handle"] == "handle.invalid"
    await world.apply(AccountChange(None, alice.did, True, None))
    out = await world.ok(A + "getProfile", None, params={"actor": alice.did})
    assert out["handle"] == "alice.test"


async def test_search_and_typeahead(world: World) -> None:
    alice, albert, bob = await world.new_accounts("alice", "albert", "bob")
    await world.profile(albert, displayName="Albert Einstein", description="physics")
    out = await world.ok(A + "searchActors", bob, params={"q": "physics"})
    assert [a["did"] for a in out["actors"]] == [albert.did]
    out = await world.ok(A + "searchActorsTypeahead", bob, params={"q": "al"})
    assert {a["did"] for a in out["actors"]} == {alice.did, albert.did}
    out = await world.ok(A + "searchActors", None, params={"term": "alice.test"})
    assert out["actors"][0]["did"] == alice.did
    # blocked accounts are left out, unless the typeahead term is exactly their handle
    await world.block(bob, alice)
    out = await world.ok(A + "searchActorsTypeahead", bob, params={"q": "al"})
    assert [a["did"] for a in out["actors"]] == [albert.did]
    out = await world.ok(A + "searchActorsTypeahead", bob, params={"q": "alice.test"})
    assert [a["did"] for a in out["actors"]] == [alice.did]
    out = await world.ok(A + "searchActors", bob, params={"q": "alice"})
    assert alice.did not in [a["did"] for a in out["actors"]]


async def test_suggestions(world: World) -> None:
    viewer, friend, popular, fof, muted = await world.new_accounts(
        "viewer", "friend", "popular", "fof", "muted"
    )
    await world.follow(viewer, friend)
    await world.follow(friend, fof)
    await world.follow(friend, muted)
    for who in (friend, fof, muted):
        await world.follow(who, popular)
    await world.ok("app.bsky.graph.muteActor", viewer, body={"actor": muted.did})
    out = await world.ok(A + "getSuggestions", viewer, params={"limit": 1})
    rest = await world.ok(A + "getSuggestions", viewer, params={"cursor": out["cursor"]})
    suggested = [a["did"] for a in out["actors"] + rest["actors"]]
    # accounts friends follow, never the viewer's follows, itself or muted accounts
    assert sorted(suggested) == sorted([popular.did, fof.did])
    assert "cursor" not in rest
    anyone = await world.ok(A + "getSuggestions", None)
    assert anyone["actors"][0]["did"] == popular.did
