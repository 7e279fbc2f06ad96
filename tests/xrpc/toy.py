"""A toy service on the real bundled lexicons, used by the XRPC tests."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from sonet.crypto import K256Keypair, Keypair, P256Keypair, PublicKey
from sonet.repo.cid import cid_for_raw
from sonet.xrpc import (
    AccessCredentials,
    AdminCredentials,
    AuthRequiredError,
    AuthVerifiers,
    ErrorFrame,
    HandlerContext,
    InvalidRequestError,
    RateLimit,
    RefreshCredentials,
    ServiceCredentials,
    SessionTokens,
    XrpcBody,
    XrpcRouter,
    XrpcStream,
)
from sonet.xrpc.ratelimit import account_key

SECRET = "sonet-test-secret-0123456789abcdef0123456789"
SERVICE_DID = "did:web:pds.sonet.test"
ADMIN_PASSWORD = "hunter2:with-colon"
ALICE = "did:plc:alice234567abcdefghijklm"
ALICE_HANDLE = "alice.sonet.test"
CAR_BYTES = b"\x0a\xa1" + b"car-bytes" * 10000

Client = TestClient[web.Request, web.Application]


@dataclass
class KeyDirectory:
    """Issuer DIDs to signing keys, with a stale cache to exercise ``force_refresh``."""

    current: dict[str, PublicKey] = field(default_factory=dict)
    cached: dict[str, PublicKey] = field(default_factory=dict)
    calls: list[tuple[str, bool]] = field(default_factory=list)

    def register(self, did: str, keypair: Keypair) -> None:
        self.current[did] = keypair.public_key()

    async def resolve(self, iss: str, force_refresh: bool) -> PublicKey:
        self.calls.append((iss, force_refresh))
        did = iss.partition("#")[0]
        if not force_refresh and did in self.cached:
            return self.cached[did]
        if did not in self.current:
            raise AuthRequiredError("could not resolve iss did")
        self.cached[did] = self.current[did]
        return self.current[did]


@dataclass
class Toy:
    router: XrpcRouter
    tokens: SessionTokens
    keys: KeyDirectory
    k256: Keypair
    p256: Keypair
    events: list[str] = field(default_factory=list)


async def get_record(ctx: HandlerContext[None]) -> dict[str, Any]:
    p = ctx.params
    uri = f"at://{p['repo']}/{p['collection']}/{p['rkey']}"
    return {
        "uri": uri,
        "value": {"$type": p["collection"], "text": "hi", "createdAt": "2024-01-01T00:00:00Z"},
    }


async def create_record(ctx: HandlerContext[AccessCredentials]) -> dict[str, Any]:
    assert ctx.input is not None
    body = ctx.input.body
    if body["repo"] not in (ctx.auth.did, ALICE_HANDLE):
        raise InvalidRequestError("Wrong repo", "InvalidSwap")
    cid = cid_for_raw(repr(body["record"]).encode())
    return {"uri": f"at://{ctx.auth.did}/{body['collection']}/3k2abc", "cid": cid.encode()}


async def upload_blob(ctx: HandlerContext[None]) -> dict[str, Any]:
    assert ctx.input is not None
    data = await ctx.input.raw.read_all()
    blob = {
        "$type": "blob",
        "ref": cid_for_raw(data),
        "mimeType": ctx.input.encoding,
        "size": len(data),
    }
    return {"blob": blob}


async def describe_server(_ctx: HandlerContext[None]) -> dict[str, Any]:
    raise RuntimeError("database password is swordfish")


async def resolve_handle(ctx: HandlerContext[None]) -> dict[str, Any]:
    if ctx.params["handle"] == "nobody.sonet.test":
        raise InvalidRequestError("Unable to resolve handle", "HandleNotFound")
    if ctx.params["handle"] == "broken.sonet.test":
        return {"did": 42}
    return {"did": ALICE}


async def get_repo(_ctx: HandlerContext[None]) -> XrpcStream:
    async def chunks() -> AsyncGenerator[bytes, None]:
        for start in range(0, len(CAR_BYTES), 4096):
            yield CAR_BYTES[start : start + 4096]

    return XrpcStream(chunks(), "application/vnd.ipld.car")


async def get_blob(_ctx: HandlerContext[None]) -> XrpcBody:
    return XrpcBody(b"\x89PNG fake", "image/png", {"Cache-Control": "max-age=60"})


async def get_session(ctx: HandlerContext[AccessCredentials]) -> dict[str, Any]:
    return {"did": ctx.auth.did, "handle": ALICE_HANDLE}


async def create_session(ctx: HandlerContext[None]) -> dict[str, Any]:
    return {"accessJwt": "a", "refreshJwt": "r", "handle": ALICE_HANDLE, "did": ALICE}


async def delete_session(ctx: HandlerContext[RefreshCredentials]) -> None:
    return None


async def get_account_info(ctx: HandlerContext[AdminCredentials]) -> dict[str, Any]:
    return {"did": ctx.params["did"], "handle": ALICE_HANDLE, "indexedAt": "2024-01-01T00:00:00Z"}


async def get_preferences(ctx: HandlerContext[ServiceCredentials]) -> dict[str, Any]:
    return {"preferences": []}


def toy_verifiers(keys: KeyDirectory) -> tuple[SessionTokens, AuthVerifiers]:
    """Session tokens and every verifier of the toy service; service JWT keys from ``keys``."""
    tokens = SessionTokens(SECRET, SERVICE_DID)
    verifiers = AuthVerifiers(
        tokens=tokens,
        admin_password=ADMIN_PASSWORD,
        service_dids=[SERVICE_DID],
        resolve_key=keys.resolve,
    )
    return tokens, verifiers


def toy_router(**options: Any) -> Toy:
    keys = KeyDirectory()
    k256, p256 = K256Keypair.generate(), P256Keypair.generate()
    keys.register("did:plc:k256issuer234567abcdefg", k256)
    keys.register("did:plc:p256issuer234567abcdefg", p256)
    tokens, verifiers = toy_verifiers(keys)
    options.setdefault("validate_output", True)
    router = XrpcRouter(**options)
    toy = Toy(router, tokens, keys, k256, p256)

    async def subscribe_repos(ctx: HandlerContext[None]) -> AsyncGenerator[Any, None]:
        cursor = ctx.params.get("cursor")
        if cursor is not None and cursor > 100:
            yield ErrorFrame("FutureCursor", "Cursor in the future.")
            return
        try:
            for seq in range(3):
                yield {"$type": "com.atproto.sync.subscribeRepos#info", "name": f"tick-{seq}"}
            if cursor == 7:
                raise InvalidRequestError("bad luck", "ConsumerTooSlow")
            if cursor == 8:
                raise RuntimeError("internal subscription detail")
            if cursor == 9:
                yield {"$type": "com.atproto.sync.subscribeRepos#info", "name": 5}
            if cursor == 10:
                import asyncio

                await asyncio.sleep(3600)
        finally:
            toy.events.append("closed")

    router.query("com.atproto.repo.getRecord", get_record)
    router.procedure("com.atproto.repo.createRecord", create_record, auth=verifiers.access())
    router.procedure("com.atproto.repo.uploadBlob", upload_blob, max_body=1024)
    router.query("com.atproto.server.describeServer", describe_server)
    router.query("com.atproto.identity.resolveHandle", resolve_handle)
    router.query("com.atproto.sync.getRepo", get_repo)
    router.query("com.atproto.sync.getBlob", get_blob)
    router.query("com.atproto.server.getSession", get_session, auth=verifiers.access())
    router.procedure(
        "com.atproto.server.createSession",
        create_session,
        rate_limits=[RateLimit("create-session", points=3, duration=60)],
    )
    router.procedure("com.atproto.server.deleteSession", delete_session, auth=verifiers.refresh())
    router.query("com.atproto.admin.getAccountInfo", get_account_info, auth=verifiers.admin())
    router.query("app.bsky.actor.getPreferences", get_preferences, auth=verifiers.service())
    router.query(
        "app.bsky.actor.getProfile",
        get_profile,
        auth=verifiers.optional(verifiers.access()),
        rate_limits=[RateLimit("profile", points=2, duration=60, key=account_key)],
    )
    router.subscription("com.atproto.sync.subscribeRepos", subscribe_repos)
    return toy


async def get_profile(ctx: HandlerContext[AccessCredentials | None]) -> dict[str, Any]:
    did = ctx.auth.did if ctx.auth is not None else ALICE
    return {"did": did, "handle": ALICE_HANDLE}


def toy_app(toy: Toy) -> web.Application:
    app = web.Application()
    toy.router.install(app)

    async def plain(_request: web.Request) -> web.Response:
        return web.Response(text="plain page")

    app.router.add_get("/plain", plain)
    return app


async def expect_error(
    resp: ClientResponse, status: int, error: str, message: str | None = None
) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    body: dict[str, Any] = await resp.json()
    assert body["error"] == error
    if message is not None:
        assert body["message"] == message
    return body
