"""Service-auth JWTs at the AppView: real K-256 keys, issuers resolved through a loopback PLC
directory; forged, expired, wrong-audience, wrong-method and unresolvable tokens refused; a
token verified once is remembered for its method until it expires."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sonet.appview.api.auth import VerifiedTokens
from sonet.crypto import generate_keypair
from sonet.xrpc.service_jwt import create_service_jwt
from tests.appview.test_api_support import (  # noqa: F401
    APPVIEW_DID,
    World,
    fixture_plc_url,
    fixture_world,
)

TIMELINE = "app.bsky.feed.getTimeline"


async def _with_token(world: World, nsid: str, token: str) -> tuple[int, Any]:
    status, out = await world.call(nsid, headers={"Authorization": f"Bearer {token}"})
    return status, out


async def test_valid_tokens_and_audiences(world: World) -> None:
    alice = await world.account("alice")
    assert await world.ok(TIMELINE, alice) == {"feed": []}
    token = world.token(alice, TIMELINE, aud=f"{APPVIEW_DID}#bsky_appview")
    assert await _with_token(world, TIMELINE, token) == (200, {"feed": []})


async def test_refused_tokens(world: World) -> None:
    alice = await world.account("alice")
    now = time.time()
    cases = {
        "BadJwtSignature": world.token(alice, TIMELINE, key=generate_keypair()),
        "JwtExpired": world.token(alice, TIMELINE, iat=now - 120, exp=now - 60),
        "BadJwtAudience": world.token(alice, TIMELINE, aud="did:web:other.test"),
        "BadJwtLexiconMethod": world.token(alice, "app.bsky.feed.getPosts"),
        "BadJwtIss": world.token(alice, TIMELINE, iss="did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"),
        "BadJwt": "not.a.jwt",
    }
    for error, token in cases.items():
        status, out = await _with_token(world, TIMELINE, token)
        assert (status, out["error"]) == (401, error), (error, out)
    # an lxm-less token is refused where a method is required
    token = world.token(alice, TIMELINE, lxm=None)
    status, out = await _with_token(world, TIMELINE, token)
    assert (status, out["error"]) == (401, "BadJwtLexiconMethod")


async def test_missing_auth(world: World) -> None:
    await world.fails(TIMELINE, None, 401, "AuthMissing")
    await world.fails("app.bsky.notification.listNotifications", None, 401, "AuthMissing")
    status, out = await world.call(TIMELINE, headers={"Authorization": "Basic abc"})
    assert status in (400, 401), out


async def test_optional_auth_reads(world: World) -> None:
    alice = await world.account("alice")
    post = await world.post(alice, "public")
    out = await world.ok("app.bsky.feed.getPosts", params={"uris": [post.uri]})
    assert [p["uri"] for p in out["posts"]] == [post.uri]
    assert "viewer" not in out["posts"][0]
    assert "viewer" not in out["posts"][0]["author"]
    # a bad token on an optional route is still refused
    token = world.token(alice, "app.bsky.feed.getPosts", key=generate_keypair())
    status, out = await world.call(
        "app.bsky.feed.getPosts",
        params={"uris": [post.uri]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (status, out["error"]) == (401, "BadJwtSignature")


async def test_verified_tokens_are_remembered_per_method_until_they_expire(world: World) -> None:
    """A token sent again is answered from the cache of verified tokens, for the method it was
    verified for only, and not once it has expired."""
    alice = await world.account("alice")
    tokens = world.ctx.viewer_auth.tokens
    token = world.token(alice, TIMELINE, exp=time.time() + 2)
    header = f"Bearer {token}"
    assert await _with_token(world, TIMELINE, token) == (200, {"feed": []})
    assert tokens.get(header, TIMELINE) == alice.did
    assert await _with_token(world, TIMELINE, token) == (200, {"feed": []})
    other = "app.bsky.notification.listNotifications"
    status, out = await _with_token(world, other, token)
    assert (status, out["error"]) == (401, "BadJwtLexiconMethod")
    assert tokens.get(header, other) is None
    deadline = time.time() + 10
    while tokens.get(header, TIMELINE) is not None and time.time() < deadline:
        await asyncio.sleep(0.2)
    status, out = await _with_token(world, TIMELINE, token)
    assert (status, out["error"]) == (401, "JwtExpired")


def test_verified_tokens_cache_is_bounded() -> None:
    alice = generate_keypair()
    cache = VerifiedTokens(size=3)
    headers = [
        f"Bearer {create_service_jwt(alice, alice.did(), APPVIEW_DID, TIMELINE)}" for _ in range(4)
    ]
    for header in headers:
        cache.put(header, TIMELINE, alice.did())
    assert [cache.get(h, TIMELINE) for h in headers] == [None, *[alice.did()] * 3]
