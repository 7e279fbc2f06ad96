"""searchPosts over the tantivy index (filters, sort, pages, blocks), trending hashtags, and
feed generators: views, and getFeed calling a real loopback generator (a did:web on loopback)
through the SSRF-safe client with the caller's service JWT."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from sonet.appview.ingest.events import AccountChange
from sonet.appview.ingest.times import now_iso
from tests.appview.test_api_support import (  # noqa: F401
    World,
    at,
    fixture_plc_url,
    fixture_world,
    ref,
)
from tests.net.servers import serve_app

F = "app.bsky.feed."


def facet(feature: dict[str, Any]) -> dict[str, Any]:
    return {"index": {"byteStart": 0, "byteEnd": 1}, "features": [feature]}


async def test_search_posts(world: World) -> None:
    alice, bob, carol = await world.new_accounts("alice", "bob", "carol")
    tagged = await world.post(
        alice,
        "hello world cats",
        langs=["en"],
        facets=[
            facet({"$type": "app.bsky.richtext.facet#tag", "tag": "Cats"}),
            facet({"$type": "app.bsky.richtext.facet#link", "uri": "https://www.example.com/x"}),
            facet({"$type": "app.bsky.richtext.facet#mention", "did": bob.did}),
        ],
        createdAt=at(1),
    )
    french = await world.post(bob, "bonjour le monde", langs=["fr"], createdAt=at(2))
    again = await world.post(carol, "hello again", langs=["en"], createdAt=at(3))

    async def search(**params: Any) -> list[str]:
        out = await world.ok(F + "searchPosts", alice, params=params)
        assert isinstance(out["hitsTotal"], int)
        return [p["uri"] for p in out["posts"]]

    assert await search(q="hello") == [again.uri, tagged.uri]
    assert await search(q="hello", author="alice.test") == [tagged.uri]
    assert await search(q="from:carol.test hello") == [again.uri]
    assert await search(q="hello", author="nobody.test") == []
    assert await search(q="*", mentions=bob.did) == [tagged.uri]
    assert await search(q="*", lang="fr") == [french.uri]
    assert await search(q="*", tag=["cats"]) == [tagged.uri]
    assert await search(q="*", domain="example.com") == [tagged.uri]
    assert await search(q="*", since=at(2), until=at(3)) == [french.uri]
    assert set(await search(q="hello", sort="top")) == {again.uri, tagged.uri}
    first = await world.ok(F + "searchPosts", None, params={"q": "hello", "limit": 1})
    assert first["hitsTotal"] == 2
    second = await world.ok(
        F + "searchPosts", None, params={"q": "hello", "limit": 1, "cursor": first["cursor"]}
    )
    assert [p["uri"] for p in second["posts"]] == [tagged.uri]
    await world.fails(
        F + "searchPosts", None, 400, "BadQueryString", params={"q": "x", "cursor": "zz"}
    )
    await world.fails(
        F + "searchPosts", None, 400, "BadQueryString", params={"q": "x", "since": "then"}
    )
    await world.block(alice, carol)
    assert await search(q="hello") == [tagged.uri]


async def _found(world: World, viewer: Any, **params: Any) -> tuple[list[str], Any]:
    out = await world.ok(F + "searchPosts", viewer, params=params)
    return [p["uri"] for p in out["posts"]], out


async def _actors(world: World, viewer: Any, term: str) -> tuple[list[str], list[str]]:
    full = await world.ok("app.bsky.actor.searchActors", viewer, params={"q": term})
    ahead = await world.ok("app.bsky.actor.searchActorsTypeahead", viewer, params={"q": term})
    return [a["did"] for a in full["actors"]], [a["did"] for a in ahead["actors"]]


@pytest.mark.parametrize("status", ["takendown", "suspended", "deactivated"])
async def test_search_leaves_out_actors_not_hosted_until_reactivated(
    world: World, status: str
) -> None:
    """As the reference hydrates them (an actor with an upstream status has no view): their
    posts and profiles are not served, pages are filled past them, and they come back when the
    account is active again (the posts never left the index)."""
    alice, bob = await world.new_accounts("alice", "bob")
    await world.profile(bob, displayName="Bob Builder")
    mine = await world.post(alice, "hello from alice", createdAt=at(1))
    theirs = [await world.post(bob, f"hello from bob {i}", createdAt=at(2 + i)) for i in range(3)]
    everything = [t.uri for t in reversed(theirs)] + [mine.uri]
    assert (await _found(world, alice, q="hello"))[0] == everything
    assert await _actors(world, alice, "bob") == ([bob.did], [bob.did])

    await world.apply(AccountChange(None, bob.did, False, status))
    assert (await _found(world, alice, q="hello"))[0] == [mine.uri]
    assert (await _found(world, None, q="hello"))[0] == [mine.uri]
    first, out = await _found(world, alice, q="hello", limit=1)
    assert first == [mine.uri] and "cursor" not in out  # filled past bob's three posts
    assert (await _found(world, alice, q="hello", author=bob.did))[0] == []
    assert (await _found(world, bob, q="bob"))[0] == []
    assert await _actors(world, alice, "bob") == ([], [])

    await world.apply(AccountChange(None, bob.did, True, None))
    assert (await _found(world, alice, q="hello"))[0] == everything
    assert await _actors(world, alice, "bob") == ([bob.did], [bob.did])


async def test_search_forgets_deleted_actors(world: World) -> None:
    alice, bob = await world.new_accounts("alice", "bob")
    mine = await world.post(alice, "hello from alice", createdAt=at(1))
    await world.post(bob, "hello from bob", createdAt=at(2))
    await world.apply(AccountChange(None, bob.did, False, "deleted"))
    uris, out = await _found(world, alice, q="hello")
    assert uris == [mine.uri] and out["hitsTotal"] == 1  # removed from the index itself
    assert await _actors(world, alice, "bob") == ([], [])


async def test_trending_hashtags(world: World) -> None:
    alice, bob = await world.new_accounts("alice", "bob")
    for who, tags in ((alice, ["python", "atproto"]), (bob, ["python"]), (bob, ["python"])):
        await world.post(who, "#" + " #".join(tags), tags=tags, createdAt=now_iso())
    await world.post(alice, "old", tags=["ancient"], createdAt=at(1))
    out = await world.ok("app.bsky.unspecced.getTrendingTopics", None)
    assert out == {
        "topics": [
            {"topic": "#python", "displayName": "#python", "link": "/hashtag/python"},
            {"topic": "#atproto", "displayName": "#atproto", "link": "/hashtag/atproto"},
        ],
        "suggested": [],
    }
    out = await world.ok("app.bsky.unspecced.getTrends", alice, params={"limit": 1})
    [trend] = out["trends"]
    assert trend["topic"] == "#python" and trend["postCount"] == 3
    assert [a["did"] for a in trend["actors"]] == [bob.did, alice.did]


@dataclass
class FakeFeedGenerator:
    """A feed generator on loopback, reachable as ``did:web:localhost%3A<port>``."""

    port: int = 0
    answer: Any = field(default_factory=lambda: {"feed": []})
    status: int = 200
    seen: list[dict[str, str]] = field(default_factory=list)

    @property
    def did(self) -> str:
        return f"did:web:localhost%3A{self.port}"

    def app(self) -> web.Application:
        async def did_json(_request: web.Request) -> web.Response:
            service = {
                "id": "#bsky_fg",
                "type": "BskyFeedGenerator",
                "serviceEndpoint": f"http://localhost:{self.port}",
            }
            return web.json_response({"id": self.did, "service": [service]})

        async def skeleton(request: web.Request) -> web.Response:
            self.seen.append({**request.query, "auth": request.headers.get("Authorization", "")})
            return web.json_response(self.answer, status=self.status)

        app = web.Application()
        app.router.add_get("/.well-known/did.json", did_json)
        app.router.add_get("/xrpc/app.bsky.feed.getFeedSkeleton", skeleton)
        return app


@pytest.fixture(name="feedgen")
async def fixture_feedgen() -> AsyncIterator[FakeFeedGenerator]:
    gen = FakeFeedGenerator()
    async with serve_app(gen.app()) as port:
        gen.port = port
        yield gen


async def test_feed_generators_and_get_feed(world: World, feedgen: FakeFeedGenerator) -> None:
    alice, bob, carol = await world.new_accounts("alice", "bob", "carol")
    gen = await world.write(
        alice,
        "app.bsky.feed.generator",
        {"did": feedgen.did, "displayName": "Cats", "description": "only cats"},
    )
    await world.like(bob, gen)
    p1 = await world.post(alice, "cat 1", createdAt=at(1))
    p2 = await world.post(carol, "cat 2", createdAt=at(2))
    repost = await world.repost(alice, p2)
    out = await world.ok(F + "getFeedGenerator", bob, params={"feed": gen.uri})
    view = out["view"]
    assert (out["isOnline"], out["isValid"]) == (True, True)
    assert view["did"] == feedgen.did and view["displayName"] == "Cats"
    assert view["likeCount"] == 1 and view["viewer"]["like"]
    assert view["creator"]["did"] == alice.did
    out = await world.ok(F + "getFeedGenerators", None, params={"feeds": [gen.uri, gen.uri + "x"]})
    assert [v["uri"] for v in out["feeds"]] == [gen.uri]
    out = await world.ok(F + "getActorFeeds", None, params={"actor": alice.did})
    assert [v["uri"] for v in out["feeds"]] == [gen.uri]
    out = await world.ok("app.bsky.actor.getProfile", None, params={"actor": alice.did})
    assert out["associated"]["feedgens"] == 1

    missing = f"at://{alice.did}/app.bsky.feed.post/3kmissingpost2"
    feedgen.answer = {
        "feed": [
            {
                "post": p2.uri,
                "reason": {
                    "$type": "app.bsky.feed.defs#skeletonReasonRepost",
                    "repost": repost.uri,
                },
            },
            {"post": missing},
            {"post": p1.uri, "feedContext": "ctx-1"},
        ],
        "cursor": "next-page",
        "reqId": "req-1",
    }
    out = await world.ok(F + "getFeed", bob, params={"feed": gen.uri, "limit": 10})
    assert [i["post"]["uri"] for i in out["feed"]] == [p2.uri, p1.uri]
    assert out["feed"][0]["reason"]["uri"] == repost.uri
    assert out["feed"][1]["feedContext"] == "ctx-1"
    assert all(i["reqId"] == "req-1" for i in out["feed"])
    assert out["cursor"] == "next-page"
    assert feedgen.seen[-1]["feed"] == gen.uri and feedgen.seen[-1]["limit"] == "10"
    assert feedgen.seen[-1]["auth"].startswith("Bearer ")
    # a cursor echoed back ends the feed; muted and blocked authors are filtered out
    await world.ok("app.bsky.graph.muteActor", bob, body={"actor": carol.did})
    out = await world.ok(F + "getFeed", bob, params={"feed": gen.uri, "cursor": "next-page"})
    assert [i["post"]["uri"] for i in out["feed"]] == [p1.uri]
    assert "cursor" not in out
    # unauthenticated reads pass no token
    out = await world.ok(F + "getFeed", None, params={"feed": gen.uri})
    assert feedgen.seen[-1]["auth"] == ""
    # generator errors: passed through when XRPC errors, 502 otherwise
    feedgen.status, feedgen.answer = 400, {"error": "UnknownFeed", "message": "no such feed"}
    await world.fails(F + "getFeed", bob, 400, "UnknownFeed", params={"feed": gen.uri})
    feedgen.status, feedgen.answer = 200, {"items": []}
    await world.fails(F + "getFeed", bob, 502, "InvalidFeedResponse", params={"feed": gen.uri})
    await world.fails(F + "getFeed", bob, 400, "UnknownFeed", params={"feed": gen.uri + "x"})


async def test_get_feed_refuses_unsafe_endpoints(world: World) -> None:
    alice = await world.account("alice")
    gen = await world.write(
        alice, "app.bsky.feed.generator", {"did": "did:web:nowhere.invalid", "displayName": "x"}
    )
    status, out = await world.call(F + "getFeed", alice, params={"feed": gen.uri})
    assert status == 400 and "could not resolve identity" in out["message"]
