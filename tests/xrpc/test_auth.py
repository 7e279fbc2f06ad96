"""Authentication of XRPC calls over HTTP: session tokens, admin Basic auth, service JWTs."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from sonet.crypto import K256Keypair
from sonet.xrpc import (
    AuthScope,
    HandlerContext,
    SessionTokens,
    XrpcRouter,
    create_service_jwt,
)
from tests.xrpc.toy import (
    ADMIN_PASSWORD,
    ALICE,
    ALICE_HANDLE,
    SECRET,
    SERVICE_DID,
    Client,
    KeyDirectory,
    Toy,
    expect_error,
    toy_verifiers,
)

GET_SESSION = "/xrpc/com.atproto.server.getSession"
PREFS = "/xrpc/app.bsky.actor.getPreferences"
K256_ISSUER = "did:plc:k256issuer234567abcdefg"
P256_ISSUER = "did:plc:p256issuer234567abcdefg"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_access_token(client: Client, toy: Toy) -> None:
    resp = await client.get(GET_SESSION, headers=bearer(toy.tokens.create_access(ALICE)))
    assert resp.status == 200
    assert await resp.json() == {"did": ALICE, "handle": ALICE_HANDLE}
    assert resp.headers["Cache-Control"] == "private"
    assert "Authorization" in resp.headers.getall("Vary")


async def test_app_password_access(client: Client, toy: Toy) -> None:
    token = toy.tokens.create_access(ALICE, AuthScope.APP_PASS)
    assert (await client.get(GET_SESSION, headers=bearer(token))).status == 200


async def test_missing_auth(client: Client) -> None:
    resp = await client.get(GET_SESSION)
    await expect_error(resp, 401, "AuthMissing", "Authentication Required")


async def test_expired_access_token(client: Client) -> None:
    past = SessionTokens(SECRET, SERVICE_DID, clock=lambda: time.time() - 3 * 3600)
    resp = await client.get(GET_SESSION, headers=bearer(past.create_access(ALICE)))
    await expect_error(resp, 400, "ExpiredToken", "Token has expired")


async def test_forged_access_token(client: Client) -> None:
    forged = SessionTokens("x" * 48, SERVICE_DID).create_access(ALICE)
    resp = await client.get(GET_SESSION, headers=bearer(forged))
    await expect_error(resp, 400, "InvalidToken", "Token could not be verified")


async def test_refresh_token_is_not_an_access_token(client: Client, toy: Toy) -> None:
    resp = await client.get(GET_SESSION, headers=bearer(toy.tokens.create_refresh(ALICE)))
    await expect_error(resp, 400, "InvalidToken", "Token could not be verified")


async def test_basic_scheme_on_a_bearer_route(client: Client) -> None:
    resp = await client.get(GET_SESSION, headers=basic("admin", ADMIN_PASSWORD))
    await expect_error(resp, 400, "InvalidToken", "Unexpected authorization type")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer", "Malformed authorization header"),
        ("Bearer a b", "Malformed authorization header"),
        ("Token abc", "Unsupported authorization type: Token"),
    ],
)
async def test_malformed_authorization_header(client: Client, header: str, message: str) -> None:
    resp = await client.get(GET_SESSION, headers={"Authorization": header})
    await expect_error(resp, 400, "InvalidToken", message)


async def test_scheme_is_case_insensitive(client: Client, toy: Toy) -> None:
    token = toy.tokens.create_access(ALICE)
    resp = await client.get(GET_SESSION, headers={"Authorization": f"bearer {token}"})
    assert resp.status == 200


async def test_refresh_route(client: Client, toy: Toy) -> None:
    url = "/xrpc/com.atproto.server.deleteSession"
    resp = await client.post(url, headers=bearer(toy.tokens.create_refresh(ALICE)))
    assert resp.status == 200
    resp = await client.post(url, headers=bearer(toy.tokens.create_access(ALICE)))
    await expect_error(resp, 400, "InvalidToken")
    resp = await client.post(url)
    await expect_error(resp, 401, "AuthMissing")


async def test_admin_basic_auth(client: Client) -> None:
    url = "/xrpc/com.atproto.admin.getAccountInfo"
    params = {"did": ALICE}
    resp = await client.get(url, params=params, headers=basic("admin", ADMIN_PASSWORD))
    assert resp.status == 200, await resp.text()
    for headers in (basic("admin", "wrong"), basic("root", ADMIN_PASSWORD), {}):
        resp = await client.get(url, params=params, headers=headers)
        await expect_error(resp, 401, "AuthenticationRequired", "Authentication Required")
    resp = await client.get(url, params=params, headers={"Authorization": "Basic %%%"})
    await expect_error(resp, 401, "AuthenticationRequired")


@pytest.mark.parametrize("issuer", [K256_ISSUER, P256_ISSUER])
async def test_service_auth(client: Client, toy: Toy, issuer: str) -> None:
    keypair = toy.k256 if issuer == K256_ISSUER else toy.p256
    good = create_service_jwt(keypair, issuer, SERVICE_DID, "app.bsky.actor.getPreferences")
    resp = await client.get(PREFS, headers=bearer(good))
    assert resp.status == 200, await resp.text()
    wrong_lxm = create_service_jwt(keypair, issuer, SERVICE_DID, "app.bsky.feed.getTimeline")
    resp = await client.get(PREFS, headers=bearer(wrong_lxm))
    await expect_error(resp, 401, "BadJwtLexiconMethod")
    wrong_aud = create_service_jwt(
        keypair, issuer, "did:web:x.test", "app.bsky.actor.getPreferences"
    )
    resp = await client.get(PREFS, headers=bearer(wrong_aud))
    await expect_error(resp, 401, "BadJwtAudience")
    forged = create_service_jwt(
        K256Keypair.generate(), issuer, SERVICE_DID, "app.bsky.actor.getPreferences"
    )
    resp = await client.get(PREFS, headers=bearer(forged))
    await expect_error(resp, 401, "BadJwtSignature")


async def test_service_auth_missing(client: Client) -> None:
    resp = await client.get(PREFS)
    await expect_error(resp, 401, "MissingJwt", "missing jwt")


async def test_optional_auth(client: Client, toy: Toy) -> None:
    url = "/xrpc/app.bsky.actor.getProfile"
    resp = await client.get(url, params={"actor": ALICE_HANDLE})
    assert resp.status == 200
    mallory = "did:plc:mallory234567abcdefghijk"
    resp = await client.get(
        url, params={"actor": ALICE_HANDLE}, headers=bearer(toy.tokens.create_access(mallory))
    )
    assert (await resp.json())["did"] == mallory
    resp = await client.get(url, params={"actor": ALICE_HANDLE}, headers=bearer("nonsense"))
    await expect_error(resp, 400, "InvalidToken")


@pytest.fixture
async def combined() -> AsyncIterator[tuple[Client, SessionTokens, K256Keypair]]:
    keys = KeyDirectory()
    keypair = K256Keypair.generate()
    keys.register(K256_ISSUER, keypair)
    tokens, verifiers = toy_verifiers(keys)
    router = XrpcRouter()

    async def whoami(ctx: HandlerContext[Any]) -> dict[str, Any]:
        return {"auth": type(ctx.auth).__name__, "did": getattr(ctx.auth, "did", None)}

    router.query("com.atproto.repo.describeRepo", whoami, auth=verifiers.access_or_service())
    router.query(
        "com.atproto.admin.getAccountInfo", whoami, auth=verifiers.admin_or(verifiers.access())
    )
    router.query(
        "app.bsky.actor.getPreferences",
        whoami,
        auth=verifiers.service(issuers=["did:plc:someoneelse"]),
    )
    app = web.Application()
    router.install(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, tokens, keypair


async def test_access_or_service(combined: tuple[Client, SessionTokens, K256Keypair]) -> None:
    client, tokens, keypair = combined
    url = "/xrpc/com.atproto.repo.describeRepo"
    params = {"repo": ALICE}
    resp = await client.get(url, params=params, headers=bearer(tokens.create_access(ALICE)))
    assert await resp.json() == {"auth": "AccessCredentials", "did": ALICE}
    token = create_service_jwt(keypair, K256_ISSUER, SERVICE_DID, "com.atproto.repo.describeRepo")
    resp = await client.get(url, params=params, headers=bearer(token))
    assert await resp.json() == {"auth": "ServiceCredentials", "did": K256_ISSUER}


async def test_admin_or_access(combined: tuple[Client, SessionTokens, K256Keypair]) -> None:
    client, tokens, _ = combined
    url = "/xrpc/com.atproto.admin.getAccountInfo"
    params = {"did": ALICE}
    resp = await client.get(url, params=params, headers=basic("admin", ADMIN_PASSWORD))
    assert (await resp.json())["auth"] == "AdminCredentials"
    resp = await client.get(url, params=params, headers=bearer(tokens.create_access(ALICE)))
    assert (await resp.json())["auth"] == "AccessCredentials"


async def test_untrusted_issuer(combined: tuple[Client, SessionTokens, K256Keypair]) -> None:
    client, _, keypair = combined
    token = create_service_jwt(keypair, K256_ISSUER, SERVICE_DID, "app.bsky.actor.getPreferences")
    resp = await client.get("/xrpc/app.bsky.actor.getPreferences", headers=bearer(token))
    await expect_error(resp, 401, "UntrustedIss", "Untrusted issuer")
