"""A real fake AppView on loopback for the proxy tests and benchmark, and tests of the fake itself.

The fake serves its own ``did:web`` document (``#bsky_appview`` and ``#bsky_chat`` services),
checks every XRPC call's service JWT (audience, method, signature by the account's key) the way
a real AppView does, records the calls, and answers with payloads shaped like the ones the
Bluesky AppView sends for ``getTimeline``/``getProfile``. A few methods misbehave on purpose:
errors, a 500, slowness, oversized bodies.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
import orjson
from aiohttp import web

from sonet.crypto import K256Keypair, PublicKey
from sonet.repo.cid import cid_for_cbor
from sonet.xrpc.errors import AuthRequiredError, XRPCError
from sonet.xrpc.service_jwt import ServiceJwtPayload, create_service_jwt, verify_service_jwt
from tests.net.servers import serve_app

SLOW_SECONDS: Final = 2.0
BIG_BODY: Final = 11 * 1024 * 1024


def fake_cid(seed: str) -> str:
    return str(cid_for_cbor(hashlib.sha256(seed.encode()).digest()).encode())


def profile_basic(did: str, handle: str, name: str) -> dict[str, Any]:
    avatar_cid = fake_cid("avatar" + did)
    return {
        "did": did,
        "handle": handle,
        "displayName": name,
        "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did}/{avatar_cid}@jpeg",
        "associated": {"chat": {"allowIncoming": "following"}},
        "viewer": {"muted": False, "blockedBy": False, "following": f"at://{did}/x"},
        "labels": [],
        "createdAt": "2023-04-12T18:39:37.941Z",
    }


def post_view(author: dict[str, Any], n: int) -> dict[str, Any]:
    text = f"Post number {n} from {author['handle']}: the #atproto firehose is lovely today"
    start = text.index("#atproto")
    return {
        "uri": f"at://{author['did']}/app.bsky.feed.post/3kt{n:010d}",
        "cid": fake_cid(f"post{n}{author['did']}"),
        "author": author,
        "record": {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": f"2025-05-01T12:{n % 60:02d}:00.000Z",
            "langs": ["en"],
            "facets": [
                {
                    "index": {"byteStart": start, "byteEnd": start + len("#atproto")},
                    "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "atproto"}],
                }
            ],
        },
        "bookmarkCount": 0,
        "replyCount": n % 4,
        "repostCount": n % 7,
        "likeCount": 3 * n,
        "quoteCount": 0,
        "indexedAt": f"2025-05-01T12:{n % 60:02d}:01.123Z",
        "viewer": {"bookmarked": False, "threadMuted": False, "embeddingDisabled": False},
        "labels": [],
    }


def timeline_payload(items: int = 30) -> dict[str, Any]:
    """A ``getTimeline`` answer: posts by a few authors, every fifth one a repost."""
    authors = [
        profile_basic(f"did:plc:author{i:016d}abcd", f"author{i}.bsky.social", f"Author {i}")
        for i in range(5)
    ]
    feed: list[dict[str, Any]] = []
    for n in range(items):
        item: dict[str, Any] = {"post": post_view(authors[n % len(authors)], n)}
        if n % 5 == 4:
            item["reason"] = {
                "$type": "app.bsky.feed.defs#reasonRepost",
                "by": authors[(n + 1) % len(authors)],
                "indexedAt": "2025-05-01T13:00:00.000Z",
            }
        feed.append(item)
    return {"cursor": f"2025-05-01T12:00:00.000Z::{fake_cid('cursor')}", "feed": feed}


def profile_payload(actor: str) -> dict[str, Any]:
    """A ``getProfile`` (profileViewDetailed) answer for ``actor``."""
    did = actor if actor.startswith("did:") else "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
    handle = actor if not actor.startswith("did:") else "atproto.com"
    profile = profile_basic(did, handle, "AT Protocol Developers")
    profile.update(
        description="Social networking technology created by Bluesky.",
        banner=f"https://cdn.bsky.app/img/banner/plain/{did}/{fake_cid('banner')}@jpeg",
        followersCount=92_000,
        followsCount=12,
        postsCount=341,
        indexedAt="2024-01-20T05:32:57.573Z",
    )
    return profile


@dataclass
class RecordedCall:
    """One call the fake accepted."""

    method: str
    nsid: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    jwt: ServiceJwtPayload


@dataclass
class FakeAppView:
    """A fake AppView (and chat service); ``keys`` maps account DIDs to their public keys."""

    keys: dict[str, PublicKey] = field(default_factory=dict)
    calls: list[RecordedCall] = field(default_factory=list)
    port: int = 0
    timeline_items: int = 30
    _timeline: bytes | None = field(default=None, repr=False)

    @property
    def did(self) -> str:
        return f"did:web:localhost%3A{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def timeline_bytes(self) -> bytes:
        """The encoded timeline answer (made once: a real AppView's cost is not measured)."""
        if self._timeline is None:
            self._timeline = orjson.dumps(timeline_payload(self.timeline_items))
        return self._timeline

    def did_document(self) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": self.did,
            "service": [
                {"id": "#bsky_appview", "type": "BskyAppView", "serviceEndpoint": self.url},
                {"id": "#bsky_chat", "type": "BskyChatService", "serviceEndpoint": self.url},
                {"id": "#broken", "type": "Broken", "serviceEndpoint": "not a url"},
            ],
        }

    async def _resolve(self, iss: str, _force_refresh: bool) -> PublicKey:
        key = self.keys.get(iss)
        if key is None:
            raise AuthRequiredError("unknown issuer", "UntrustedIss")
        return key

    async def _authenticate(self, request: web.Request, nsid: str) -> ServiceJwtPayload:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise AuthRequiredError("missing jwt", "MissingJwt")
        return await verify_service_jwt(auth[7:], self.did, nsid, self._resolve)

    async def xrpc(self, request: web.Request) -> web.StreamResponse:
        nsid = request.match_info["nsid"]
        try:
            jwt = await self._authenticate(request, nsid)
        except XRPCError as exc:
            return web.json_response(exc.payload(), status=exc.status)
        body = await request.read()
        self.calls.append(
            RecordedCall(
                request.method, nsid, dict(request.query), dict(request.headers), body, jwt
            )
        )
        return await self.answer(request, nsid, body)

    async def answer(self, request: web.Request, nsid: str, body: bytes) -> web.StreamResponse:
        headers = {"atproto-content-labelers": "did:plc:ar7c4by46qjdydhdevvrndac;redact"}
        if nsid == "app.bsky.feed.getTimeline":
            response = web.Response(
                body=self.timeline_bytes(), content_type="application/json", headers=headers
            )
            if "gzip" in request.headers.get("Accept-Encoding", ""):
                response.enable_compression(web.ContentCoding.gzip)
            return response
        if nsid == "app.bsky.actor.getProfile":
            actor = request.query.get("actor", "")
            return web.json_response(profile_payload(actor), headers=headers, dumps=_dumps)
        if nsid in ("app.bsky.notification.updateSeen", "app.bsky.actor.putPreferences"):
            return web.Response(status=200)
        if nsid == "app.bsky.actor.getPreferences":
            return web.json_response({"preferences": [{"$type": "app.example.fromAppview"}]})
        if nsid == "chat.bsky.convo.listConvos":
            return web.json_response({"convos": []})
        if nsid == "app.bsky.feed.getFeed":
            error = {"error": "UnknownFeed", "message": "could not find feed"}
            return web.json_response(error, status=400, headers={"Retry-After": "7"})
        if nsid == "app.bsky.feed.getAuthorFeed":
            return web.json_response({"error": "InternalServerError"}, status=500)
        if nsid == "app.bsky.feed.getPostThread":
            await asyncio.sleep(SLOW_SECONDS)
            return web.json_response({"thread": {}})
        if nsid == "app.bsky.feed.searchPosts":  # large, but within the proxy's limit
            posts = timeline_payload(400)["feed"]
            return web.json_response({"posts": [item["post"] for item in posts]}, dumps=_dumps)
        if nsid == "app.bsky.feed.getLikes":
            return web.Response(body=b"x" * BIG_BODY, content_type="application/json")
        if nsid == "app.bsky.feed.getRepostedBy":
            stream = web.StreamResponse()
            stream.content_type = "application/json"
            await stream.prepare(request)
            for _ in range(BIG_BODY // 65536 + 1):
                await stream.write(b"y" * 65536)
            await stream.write_eof()
            return stream
        return web.json_response({"error": "MethodNotImplemented"}, status=501)

    def app(self) -> web.Application:
        async def did_json(_request: web.Request) -> web.Response:
            return web.json_response(self.did_document())

        app = web.Application()
        app.router.add_get("/.well-known/did.json", did_json)
        app.router.add_route("*", "/xrpc/{nsid}", self.xrpc)
        return app


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


@asynccontextmanager
async def running_appview(**options: Any) -> AsyncIterator[FakeAppView]:
    """A :class:`FakeAppView` serving on 127.0.0.1."""
    fake = FakeAppView(**options)
    async with serve_app(fake.app()) as port:
        fake.port = port
        yield fake


# Tests of the fake: it refuses what a real AppView refuses.


async def test_fake_appview_checks_service_jwts() -> None:
    alice, mallory = K256Keypair.generate(), K256Keypair.generate()
    did = "did:plc:alice234567abcdefghijklm"
    async with running_appview() as fake, aiohttp.ClientSession() as http:
        fake.keys[did] = alice.public_key()
        url = f"{fake.url}/xrpc/app.bsky.feed.getTimeline"
        cases = [
            (None, "MissingJwt"),
            (create_service_jwt(mallory, did, fake.did, "app.bsky.feed.getTimeline"), None),
            (
                create_service_jwt(alice, did, "did:web:other.test", "app.bsky.feed.getTimeline"),
                None,
            ),
            (create_service_jwt(alice, did, fake.did, "app.bsky.actor.getProfile"), None),
        ]
        for token, error in cases:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with http.get(url, headers=headers) as resp:
                assert resp.status == 401
                if error:
                    assert (await resp.json())["error"] == error
        good = create_service_jwt(alice, did, fake.did, "app.bsky.feed.getTimeline")
        async with http.get(url, headers={"Authorization": f"Bearer {good}"}) as resp:
            assert resp.status == 200
            assert len((await resp.json())["feed"]) == 30
        assert [call.jwt.iss for call in fake.calls] == [did]
