"""CORS preflights and headers on every kind of response."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from sonet.xrpc import XrpcRouter, setup_cors
from tests.xrpc.toy import ALICE, Client

PREFLIGHT = {
    "Origin": "https://app.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, atproto-proxy, x-custom",
}


def header_set(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",")}


async def test_preflight(client: Client) -> None:
    resp = await client.options("/xrpc/com.atproto.repo.createRecord", headers=PREFLIGHT)
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"].split(",")
    allowed = header_set(resp.headers["Access-Control-Allow-Headers"])
    assert {"atproto-proxy", "atproto-accept-labelers", "authorization", "content-type"} <= allowed
    assert "x-custom" in allowed
    assert resp.headers["Access-Control-Max-Age"] == "86400"


async def test_preflight_anywhere(client: Client) -> None:
    resp = await client.options("/somewhere/else", headers=PREFLIGHT)
    assert resp.status == 204


async def test_headers_on_success_error_and_stream(client: Client) -> None:
    origin = {"Origin": "https://app.example"}
    responses = [
        await client.get("/xrpc/_health", headers=origin),
        await client.get("/xrpc/com.example.nothing.here", headers=origin),
        await client.get("/xrpc/com.atproto.sync.getRepo", params={"did": ALICE}, headers=origin),
        await client.get("/no/such/page", headers=origin),
    ]
    assert [resp.status for resp in responses] == [200, 501, 200, 404]
    for resp in responses:
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        exposed = header_set(resp.headers["Access-Control-Expose-Headers"])
        assert {
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
            "ratelimit-policy",
        } <= exposed


async def test_options_without_preflight_headers_is_routed(client: Client) -> None:
    resp = await client.options("/xrpc/com.atproto.server.describeServer")
    assert resp.status == 400
    assert (await resp.json())["message"] == "Incorrect HTTP method (OPTIONS) expected GET"


async def test_reflection_can_be_turned_off() -> None:
    app = web.Application()
    XrpcRouter().install(app, cors=False)
    setup_cors(app, reflect_request_headers=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        resp = await client.options("/xrpc/_health", headers=PREFLIGHT)
        assert resp.status == 204
        assert "x-custom" not in header_set(resp.headers["Access-Control-Allow-Headers"])
