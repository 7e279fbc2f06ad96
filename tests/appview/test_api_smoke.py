"""Smoke test of the AppView read API (temporary)."""

from __future__ import annotations

from tests.appview.test_api_support import World, plc_url, world  # noqa: F401


async def test_smoke(world: World) -> None:
    alice = await world.account("alice")
    bob = await world.account("bob")
    await world.profile(alice, displayName="Alice", description="hi")
    await world.follow(bob, alice)
    post = await world.post(alice, "hello world")
    await world.like(bob, post)
    out = await world.ok("app.bsky.actor.getProfile", bob, params={"actor": alice.did})
    print(out)
    tl = await world.ok("app.bsky.feed.getTimeline", bob)
    print(tl)
    th = await world.ok("app.bsky.feed.getPostThread", None, params={"uri": post.uri})
    print(th)
