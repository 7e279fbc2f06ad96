"""The PDS proxy against a real fake AppView on loopback, on both databases."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from sonet.pds.config import PdsConfig
from sonet.pds.proxy import ProxyLimits, get_proxy
from sonet.pds.proxy_methods import default_service, is_privileged_method, is_protected_method
from sonet.pds.proxy_target import ProxyServices, ServiceEndpoint, parse_proxy_header
from sonet.xrpc.errors import InvalidRequestError
from sonet.xrpc.tokens import AuthScope
from tests.pds.conftest import PdsFactory, RunningPds, create_test_account
from tests.pds.test_proxy_fakes import (
    FakeAppView,
    profile_payload,
    running_appview,
    timeline_payload,
)

PROXY_AREA = "sonet.pds.proxy"


async def start(
    pds_factory: PdsFactory, fake: FakeAppView, scope: AuthScope = AuthScope.ACCESS, **config: Any
) -> tuple[RunningPds, str, dict[str, str]]:
    """A PDS whose AppView is ``fake``, an account known to the fake, and its auth header."""
    config.setdefault("appview_url", fake.url)
    config.setdefault("appview_did", fake.did)
    pds = await pds_factory(areas=[PROXY_AREA], **config)
    did, key = await create_test_account(pds.ctx, "alice.test")
    fake.keys[did] = key.public_key()
    token = pds.ctx.tokens.create_access(did, scope)
    return pds, did, {"Authorization": f"Bearer {token}"}


async def error_of(resp: aiohttp.ClientResponse) -> tuple[int, str, str]:
    body = await resp.json()
    return resp.status, body["error"], body["message"]


async def test_timeline_is_proxied_with_a_service_jwt(pds_factory: PdsFactory) -> None:
    async with running_appview() as fake:
        pds, did, auth = await start(pds_factory, fake)
        headers = {
            **auth,
            "Accept-Language": "en,fr;q=0.8",
            "atproto-accept-labelers": "did:plc:ar7c4by46qjdydhdevvrndac;redact",
            "Cookie": "secret=1",
        }
        resp = await pds.client.get(
            "/xrpc/app.bsky.feed.getTimeline?limit=50&cursor=abc",
            headers=headers,
            skip_auto_headers=["Accept-Encoding"],
        )
        assert resp.status == 200
        assert await resp.json() == timeline_payload()
        assert resp.headers["Content-Type"].startswith("application/json")
        assert resp.headers["atproto-content-labelers"].startswith("did:plc:ar7c4")
        assert resp.headers["Cache-Control"] == "private"
        [call] = fake.calls
        assert call.method == "GET"
        assert call.query == {"limit": "50", "cursor": "abc"}
        assert call.jwt.iss == did and call.jwt.aud == fake.did
        assert call.jwt.lxm == "app.bsky.feed.getTimeline"
        assert call.jwt.iat is not None and call.jwt.exp - call.jwt.iat == 60
        assert call.headers["Accept-Language"] == "en,fr;q=0.8"
        assert call.headers["atproto-accept-labelers"].endswith(";redact")
        assert call.headers["Accept-Encoding"] == "identity"
        assert "Cookie" not in call.headers


async def test_profile_and_procedure_bodies(pds_factory: PdsFactory) -> None:
    async with running_appview() as fake:
        pds, _did, auth = await start(pds_factory, fake)
        resp = await pds.client.get(
            "/xrpc/app.bsky.actor.getProfile", params={"actor": "atproto.com"}, headers=auth
        )
        assert resp.status == 200
        assert await resp.json() == profile_payload("atproto.com")
        body = orjson.dumps({"seenAt": "2025-05-01T12:00:00.000Z"})
        resp = await pds.client.post(
            "/xrpc/app.bsky.notification.updateSeen",
            data=body,
            headers={**auth, "Content-Type": "application/json"},
        )
        assert resp.status == 200
        call = fake.calls[-1]
        assert (call.method, call.body) == ("POST", body)
        assert call.headers["Content-Type"] == "application/json"
        assert call.jwt.lxm == "app.bsky.notification.updateSeen"


async def test_large_answers_are_streamed(pds_factory: PdsFactory) -> None:
    async with running_appview() as fake:
        pds, _did, auth = await start(pds_factory, fake)
        resp = await pds.client.get(
            "/xrpc/app.bsky.feed.searchPosts", params={"q": "atproto"}, headers=auth
        )
        assert resp.status == 200
        assert int(resp.headers["Content-Length"]) > 300_000
        posts = (await resp.json())["posts"]
        assert posts == [item["post"] for item in timeline_payload(400)["feed"]]


async def test_gzip_passes_through_untouched(pds_factory: PdsFactory) -> None:
    async with running_appview() as fake:
        pds, _did, auth = await start(pds_factory, fake)
        resp = await pds.client.get(
            "/xrpc/app.bsky.feed.getTimeline",
            headers={**auth, "Accept-Encoding": "gzip"},
        )
        assert resp.status == 200
        assert fake.calls[-1].headers["Accept-Encoding"] == "gzip"
        assert resp.headers["Content-Encoding"] == "gzip"
        assert await resp.json() == timeline_payload()


async def test_authentication_and_method_rules(pds_factory: PdsFactory) -> None:
    async with running_appview() as fake:
        pds, did, auth = await start(pds_factory, fake, scope=AuthScope.APP_PASS)
        resp = await pds.client.get("/xrpc/app.bsky.feed.getTimeline")
        assert (resp.status, (await resp.json())["error"]) == (401, "AuthMissing")
        resp = await pds.client.get(
            "/xrpc/app.bsky.feed.getTimeline", headers={"Authorization": "DPoP abc"}
        )
        assert await error_of(resp) == (400, "InvalidRequest", "DPoP requests cannot be proxied")
        chat = {**auth, "atproto-proxy": f"{fake.did}#bsky_chat"}
        resp = await pds.client.get("/xrpc/chat.bsky.convo.listConvos", headers=chat)
        assert await error_of(resp) == (400, "InvalidToken", "Bad token method")
        resp = await pds.client.get("/xrpc/com.atproto.server.getSession", headers=auth)
        assert await error_of(resp) == (400, "InvalidToken", "Bad token method")
        resp = await pds.client.put("/xrpc/app.bsky.feed.getTimeline", headers=auth)
        assert resp.status == 400
        privileged = pds.ctx.tokens.create_access(did, AuthScope.APP_PASS_PRIVILEGED)
        chat["Authorization"] = f"Bearer {privileged}"
        resp = await pds.client.get("/xrpc/chat.bsky.convo.listConvos", headers=chat)
        assert resp.status == 200
        assert await resp.json() == {"convos": []}
        assert fake.calls[-1].jwt.aud == fake.did
        assert fake.calls[-1].jwt.lxm == "chat.bsky.convo.listConvos"


async def test_atproto_proxy_header_to_another_service(pds_factory: PdsFactory) -> None:
    async with running_appview() as default, running_appview() as other:
        pds, did, auth = await start(pds_factory, default)
        other.keys[did] = default.keys[did]
        headers = {**auth, "atproto-proxy": f"{other.did}#bsky_appview"}
        resp = await pds.client.get("/xrpc/app.bsky.feed.getTimeline", headers=headers)
        assert resp.status == 200
        assert default.calls == []
        [call] = other.calls
        assert call.jwt.aud == other.did
        bad = {
            "did:web:example.com": "no service id specified in proxy header",
            "#bsky_appview": "no did specified in proxy header",
            f"{other.did}#a#b": "invalid proxy header format",
            f"{other.did}#nothing": "could not resolve proxy did service url",
            f"{other.did}#broken": "could not resolve proxy did",
            "did:plc:notreal#bsky_appview": "could not resolve proxy did",
        }
        for header, message in bad.items():
            resp = await pds.client.get(
                "/xrpc/app.bsky.feed.getTimeline", headers={**auth, "atproto-proxy": header}
            )
            assert await error_of(resp) == (400, "InvalidRequest", message), header
        unreachable = {**auth, "atproto-proxy": "did:web:localhost%3A1#bsky_appview"}
        resp = await pds.client.get("/xrpc/app.bsky.feed.getTimeline", headers=unreachable)
        assert (await error_of(resp))[:2] == (502, "UpstreamFailure")


async def test_upstream_errors_are_mapped(pds_factory: PdsFactory) -> None:
    async with running_appview() as fake:
        pds, _did, auth = await start(pds_factory, fake)
        resp = await pds.client.get(
            "/xrpc/app.bsky.feed.getFeed", params={"feed": "at://x/y/z"}, headers=auth
        )
        assert await error_of(resp) == (400, "UnknownFeed", "could not find feed")
        assert resp.headers["Retry-After"] == "7"
        resp = await pds.client.get(
            "/xrpc/app.bsky.feed.getAuthorFeed", params={"actor": "bob.test"}, headers=auth
        )
        assert (await error_of(resp))[:2] == (502, "InternalServerError")
        resp = await pds.client.get("/xrpc/com.example.nothing", headers=auth)
        assert (await error_of(resp))[:2] == (501, "MethodNotImplemented")


async def test_timeouts_and_size_limits(pds_factory: PdsFactory) -> None:
    async with running_appview() as fake:
        pds, _did, auth = await start(pds_factory, fake)
        proxy = get_proxy(pds.ctx)
        proxy.limits = ProxyLimits(read_timeout=0.3, max_request_bytes=1000)
        resp = await pds.client.get(
            "/xrpc/app.bsky.feed.getPostThread", params={"uri": "at://x/y/z"}, headers=auth
        )
        assert (await error_of(resp))[:2] == (504, "UpstreamTimeout")
        resp = await pds.client.get(
            "/xrpc/app.bsky.feed.getLikes", params={"uri": "at://x/y/z"}, headers=auth
        )
        assert (await error_of(resp))[:2] == (502, "UpstreamFailure")
        with pytest.raises(aiohttp.ClientPayloadError):
            resp = await pds.client.get(
                "/xrpc/app.bsky.feed.getRepostedBy", params={"uri": "at://x/y/z"}, headers=auth
            )
            await resp.read()
        calls = len(fake.calls)
        resp = await pds.client.post(
            "/xrpc/app.bsky.notification.updateSeen",
            data=b'{"seenAt": "' + b"1" * 2000 + b'"}',
            headers={**auth, "Content-Type": "application/json"},
        )
        assert resp.status == 413
        assert len(fake.calls) == calls


async def test_unconfigured_unreachable_and_private_upstreams(pds_factory: PdsFactory) -> None:
    async with running_appview() as fake:
        pds, _did, auth = await start(pds_factory, fake, appview_url=None, appview_did=None)
        resp = await pds.client.get("/xrpc/app.bsky.feed.getTimeline", headers=auth)
        assert await error_of(resp) == (
            400,
            "InvalidRequest",
            "No service configured for app.bsky.feed.getTimeline",
        )
        pds, _did, auth = await start(pds_factory, fake, allow_private_network=False)
        resp = await pds.client.get("/xrpc/app.bsky.feed.getTimeline", headers=auth)
        assert (await error_of(resp))[:2] == (502, "UpstreamFailure")
        assert fake.calls == []
        pds, _did, auth = await start(pds_factory, fake, appview_url="http://127.0.0.1:1")
        resp = await pds.client.get("/xrpc/app.bsky.feed.getTimeline", headers=auth)
        assert await error_of(resp) == (502, "UpstreamFailure", "Upstream service unreachable")


def test_method_tables_and_header_parsing() -> None:
    assert is_protected_method("com.atproto.server.GETSESSION")
    assert is_privileged_method("chat.bsky.convo.sendMessage")
    assert not is_privileged_method("app.bsky.feed.getTimeline")
    assert default_service("tools.ozone.moderation.emitEvent").service_id == "atproto_labeler"
    assert default_service("chat.bsky.convo.getLog").service_id == "bsky_chat"
    assert default_service("app.bsky.feed.getTimeline").service_id == "bsky_appview"
    assert parse_proxy_header("did:web:api.bsky.chat#bsky_chat") == (
        "did:web:api.bsky.chat",
        "bsky_chat",
    )
    for header in ("did:web:a b#x", "not-a-did#x", "did:web:a#"):
        with pytest.raises(InvalidRequestError):
            parse_proxy_header(header)
    services = ProxyServices(chat=ServiceEndpoint("https://chat.example", "did:web:chat.example"))
    target = services.default_target("chat.bsky.convo.listConvos")
    assert target is not None and target.proxy_to == "did:web:chat.example#bsky_chat"
    assert services.default_target("app.bsky.feed.getTimeline") is None


def test_default_services_from_env_config() -> None:
    env = {
        "SONET_APPVIEW_URL": "https://appview.example/",
        "SONET_APPVIEW_DID": "did:web:appview.example",
        "SONET_CHAT_URL": "https://chat.example",
        "SONET_CHAT_DID": "did:web:chat.example",
        "SONET_MOD_SERVICE_URL": "https://mod.example",
        "SONET_MOD_SERVICE_DID": "did:web:mod.example",
        "SONET_REPORT_SERVICE_URL": "https://reports.example",
    }
    services = ProxyServices.from_config(PdsConfig.from_env(env))
    assert services.appview == ServiceEndpoint("https://appview.example", "did:web:appview.example")
    assert services.chat == ServiceEndpoint("https://chat.example", "did:web:chat.example")
    assert services.moderation == ServiceEndpoint("https://mod.example", "did:web:mod.example")
    assert services.reports is None  # a URL without a DID is not a usable service
    target = services.default_target("tools.ozone.moderation.emitEvent")
    assert target is not None and target.url == "https://mod.example"
