"""The router's call pipeline on a real loopback server: methods, params, bodies, outputs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from sonet.lexicons import LexiconError, LexiconNotFoundError
from sonet.repo.cid import cid_for_raw
from sonet.xrpc import HandlerContext, XrpcRouter, XrpcStream
from sonet.xrpc.health import add_health_route
from tests.xrpc.toy import ALICE, CAR_BYTES, Client, Toy, expect_error, toy_app, toy_router

GET_RECORD = "/xrpc/com.atproto.repo.getRecord"
RECORD_PARAMS = {"repo": ALICE, "collection": "app.bsky.feed.post", "rkey": "3k2abc"}


async def test_query_with_lexicon_params(client: Client) -> None:
    resp = await client.get(GET_RECORD, params=RECORD_PARAMS)
    assert resp.status == 200
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert body["uri"] == f"at://{ALICE}/app.bsky.feed.post/3k2abc"


async def test_head_of_a_query(client: Client) -> None:
    resp = await client.head(GET_RECORD, params=RECORD_PARAMS)
    assert resp.status == 200


async def test_missing_required_param(client: Client) -> None:
    resp = await client.get(GET_RECORD, params={"repo": ALICE, "collection": "app.bsky.feed.post"})
    await expect_error(resp, 400, "InvalidRequest", 'Params must have the property "rkey"')


async def test_invalid_param_value(client: Client) -> None:
    resp = await client.get(GET_RECORD, params={**RECORD_PARAMS, "collection": "not an nsid"})
    body = await expect_error(resp, 400, "InvalidRequest")
    assert body["message"].startswith("collection ")


async def test_wrong_method_for_query(client: Client) -> None:
    resp = await client.post(GET_RECORD, params=RECORD_PARAMS)
    await expect_error(resp, 400, "InvalidRequest", "Incorrect HTTP method (POST) expected GET")


async def test_wrong_method_for_procedure(client: Client) -> None:
    resp = await client.get("/xrpc/com.atproto.repo.createRecord")
    await expect_error(resp, 400, "InvalidRequest", "Incorrect HTTP method (GET) expected POST")


async def test_wrong_method_for_known_but_unregistered_method(client: Client) -> None:
    resp = await client.get("/xrpc/com.atproto.repo.deleteRecord")
    await expect_error(resp, 400, "InvalidRequest", "Incorrect HTTP method (GET) expected POST")


async def test_unknown_nsid_is_not_implemented(client: Client) -> None:
    resp = await client.get("/xrpc/com.example.nothing.here")
    await expect_error(resp, 501, "MethodNotImplemented", "Method Not Implemented")


async def test_known_but_unregistered_nsid_is_not_implemented(client: Client) -> None:
    resp = await client.get("/xrpc/app.bsky.feed.getTimeline")
    await expect_error(resp, 501, "MethodNotImplemented")


@pytest.mark.parametrize("path", ["/xrpc/not_an_nsid", "/xrpc/", "/xrpc/a.b.c/extra"])
async def test_invalid_xrpc_path(client: Client, path: str) -> None:
    resp = await client.get(path)
    await expect_error(resp, 400, "InvalidRequest", "invalid xrpc path")


async def test_unknown_route_outside_xrpc(client: Client) -> None:
    resp = await client.get("/no/such/page")
    await expect_error(resp, 404, "NotFound", "Not Found")


async def test_other_routes_are_left_alone(client: Client) -> None:
    resp = await client.get("/plain")
    assert resp.status == 200
    assert await resp.text() == "plain page"


async def test_handler_xrpc_error_with_custom_name(client: Client) -> None:
    resp = await client.get(
        "/xrpc/com.atproto.identity.resolveHandle", params={"handle": "nobody.sonet.test"}
    )
    await expect_error(resp, 400, "HandleNotFound", "Unable to resolve handle")


async def test_unexpected_exception_is_500_without_details(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        resp = await client.get("/xrpc/com.atproto.server.describeServer")
    body = await expect_error(resp, 500, "InternalServerError", "Internal Server Error")
    assert "swordfish" not in orjson.dumps(body).decode()
    assert "swordfish" in caplog.text


async def test_invalid_output_is_500_when_validating(client: Client) -> None:
    resp = await client.get(
        "/xrpc/com.atproto.identity.resolveHandle", params={"handle": "broken.sonet.test"}
    )
    await expect_error(resp, 500, "InternalServerError", "Internal Server Error")


async def test_invalid_output_passes_when_not_validating() -> None:
    app = toy_app(toy_router(validate_output=False))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        resp = await client.get(
            "/xrpc/com.atproto.identity.resolveHandle", params={"handle": "broken.sonet.test"}
        )
        assert resp.status == 200
        assert await resp.json() == {"did": 42}


async def test_streamed_output(client: Client) -> None:
    resp = await client.get("/xrpc/com.atproto.sync.getRepo", params={"did": ALICE})
    assert resp.status == 200
    assert resp.content_type == "application/vnd.ipld.car"
    assert await resp.read() == CAR_BYTES


async def test_raw_output_with_headers(client: Client) -> None:
    cid = cid_for_raw(b"x").encode()
    resp = await client.get("/xrpc/com.atproto.sync.getBlob", params={"did": ALICE, "cid": cid})
    assert resp.status == 200
    assert resp.content_type == "image/png"
    assert resp.headers["Cache-Control"] == "max-age=60"
    assert await resp.read() == b"\x89PNG fake"


async def test_health_still_answers(client: Client) -> None:
    resp = await client.get("/xrpc/_health")
    assert resp.status == 200
    assert "version" in await resp.json()


async def test_fallback_answers_unregistered_methods() -> None:
    seen: list[str] = []

    async def proxy(request: web.Request, nsid: str) -> web.StreamResponse:
        seen.append(nsid)
        return web.json_response({"proxied": nsid})

    router = XrpcRouter(fallback=proxy)
    app = web.Application()
    router.install(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        resp = await client.get("/xrpc/app.bsky.feed.getTimeline")
        assert await resp.json() == {"proxied": "app.bsky.feed.getTimeline"}
        resp = await client.post("/xrpc/com.example.custom.thing")
        assert await resp.json() == {"proxied": "com.example.custom.thing"}
        resp = await client.post("/xrpc/app.bsky.feed.getTimeline")
        assert resp.status == 400
    assert seen == ["app.bsky.feed.getTimeline", "com.example.custom.thing"]


def test_registration_needs_a_matching_lexicon() -> None:
    router = XrpcRouter()

    async def handler(_ctx) -> None:
        return None

    with pytest.raises(LexiconNotFoundError):
        router.query("com.example.unknown", handler)
    with pytest.raises(LexiconError):
        router.query("com.atproto.repo.createRecord", handler)
    router.procedure("com.atproto.repo.createRecord", handler)
    with pytest.raises(LexiconError):
        router.procedure("com.atproto.repo.createRecord", handler)
    assert "com.atproto.repo.createRecord" in router


def test_health_route_is_registered_once(toy: Toy) -> None:
    app = web.Application()
    toy.router.install(app)
    add_health_route(app)
    paths = [r.canonical for r in app.router.resources()]
    assert paths.count("/xrpc/_health") == 1


async def test_stream_failing_midway_drops_the_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"first chunk"
        raise RuntimeError("disk went away")

    async def get_repo(_ctx: HandlerContext[None]) -> XrpcStream:
        return XrpcStream(chunks(), "application/vnd.ipld.car")

    router = XrpcRouter()
    router.query("com.atproto.sync.getRepo", get_repo)
    app = web.Application()
    router.install(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        resp = await client.get("/xrpc/com.atproto.sync.getRepo", params={"did": ALICE})
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    assert "disk went away" in caplog.text
