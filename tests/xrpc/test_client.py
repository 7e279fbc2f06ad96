"""The outbound XRPC client against real loopback servers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sonet.xrpc import UpstreamFailureError, UpstreamTimeoutError, XrpcClient, XRPCError
from sonet.xrpc.client import encode_params
from tests.xrpc.toy import ALICE, ALICE_HANDLE, CAR_BYTES, Client, Toy


def service_url(client: Client) -> str:
    return str(client.make_url("")).rstrip("/")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


def test_encode_params() -> None:
    pairs = encode_params({"a": "x", "b": True, "c": False, "d": 5, "e": ["1", 2, True], "f": None})
    assert pairs == [
        ("a", "x"),
        ("b", "true"),
        ("c", "false"),
        ("d", "5"),
        ("e", "1"),
        ("e", "2"),
        ("e", "true"),
    ]


async def test_query(client: Client, session: aiohttp.ClientSession) -> None:
    xrpc = XrpcClient(session, service_url(client))
    out = await xrpc.query(
        "com.atproto.repo.getRecord",
        {"repo": ALICE, "collection": "app.bsky.feed.post", "rkey": "3k2abc"},
    )
    assert out["uri"] == f"at://{ALICE}/app.bsky.feed.post/3k2abc"


async def test_procedure_with_default_headers(
    client: Client, toy: Toy, session: aiohttp.ClientSession
) -> None:
    token = toy.tokens.create_access(ALICE)
    xrpc = XrpcClient(
        session, service_url(client) + "/", headers={"Authorization": f"Bearer {token}"}
    )
    record = {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2024-01-01T00:00:00Z"}
    out = await xrpc.procedure(
        "com.atproto.repo.createRecord",
        {"repo": ALICE, "collection": "app.bsky.feed.post", "record": record},
    )
    assert out["uri"].startswith(f"at://{ALICE}/")


async def test_raw_procedure(client: Client, session: aiohttp.ClientSession) -> None:
    xrpc = XrpcClient(session, service_url(client))
    out = await xrpc.procedure("com.atproto.repo.uploadBlob", b"pixels", encoding="image/webp")
    assert out["blob"]["size"] == 6
    assert out["blob"]["mimeType"] == "image/webp"


async def test_empty_output(client: Client, toy: Toy, session: aiohttp.ClientSession) -> None:
    token = toy.tokens.create_refresh(ALICE)
    xrpc = XrpcClient(session, service_url(client))
    out = await xrpc.procedure(
        "com.atproto.server.deleteSession", headers={"Authorization": f"Bearer {token}"}
    )
    assert out is None


async def test_error_responses(client: Client, session: aiohttp.ClientSession) -> None:
    xrpc = XrpcClient(session, service_url(client))
    with pytest.raises(XRPCError) as exc:
        await xrpc.query("com.atproto.identity.resolveHandle", {"handle": "nobody.sonet.test"})
    assert (exc.value.status, exc.value.error, exc.value.message) == (
        400,
        "HandleNotFound",
        "Unable to resolve handle",
    )
    with pytest.raises(XRPCError) as exc:
        await xrpc.query("com.example.nothing.here")
    assert (exc.value.status, exc.value.error) == (501, "MethodNotImplemented")


async def test_rate_limited_call_keeps_retry_after(
    client: Client, session: aiohttp.ClientSession
) -> None:
    xrpc = XrpcClient(session, service_url(client))
    login = {"identifier": ALICE_HANDLE, "password": "pw"}
    for _ in range(3):
        await xrpc.procedure("com.atproto.server.createSession", login)
    with pytest.raises(XRPCError) as exc:
        await xrpc.procedure("com.atproto.server.createSession", login)
    assert exc.value.status == 429
    assert int(exc.value.headers["Retry-After"]) > 0


async def test_stream(client: Client, session: aiohttp.ClientSession) -> None:
    xrpc = XrpcClient(session, service_url(client))
    async with xrpc.stream("GET", "com.atproto.sync.getRepo", {"did": ALICE}) as response:
        assert response.content_type == "application/vnd.ipld.car"
        assert await response.read() == CAR_BYTES
    raw = await xrpc.call("GET", "com.atproto.sync.getRepo", {"did": ALICE})
    assert (raw.encoding, raw.body) == ("application/vnd.ipld.car", CAR_BYTES)


async def test_response_size_limit(client: Client, session: aiohttp.ClientSession) -> None:
    xrpc = XrpcClient(session, service_url(client), max_response=1000)
    with pytest.raises(UpstreamFailureError):
        await xrpc.call("GET", "com.atproto.sync.getRepo", {"did": ALICE})


async def test_non_xrpc_errors_and_bodies(session: aiohttp.ClientSession) -> None:
    async def teapot(_request: web.Request) -> web.Response:
        return web.Response(status=418, text="<html>no</html>")

    async def not_json(_request: web.Request) -> web.Response:
        return web.Response(text="plain")

    async def moved(_request: web.Request) -> web.Response:
        raise web.HTTPFound("/elsewhere")

    app = web.Application()
    app.router.add_get("/xrpc/com.example.teapot", teapot)
    app.router.add_get("/xrpc/com.example.text", not_json)
    app.router.add_get("/xrpc/com.example.moved", moved)
    async with TestServer(app, host="127.0.0.1") as server:
        xrpc = XrpcClient(session, str(server.make_url("")))
        with pytest.raises(XRPCError) as exc:
            await xrpc.query("com.example.teapot")
        assert (exc.value.status, exc.value.error, exc.value.message) == (
            418,
            "InvalidRequest",
            "Invalid Request",
        )
        with pytest.raises(UpstreamFailureError):
            await xrpc.query("com.example.text")
        with pytest.raises(UpstreamFailureError):
            await xrpc.query("com.example.moved")


async def test_connection_refused(session: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    xrpc = XrpcClient(session, f"http://127.0.0.1:{port}")
    with pytest.raises(UpstreamFailureError) as exc:
        await xrpc.query("com.atproto.server.describeServer")
    assert (exc.value.status, exc.value.error) == (502, "UpstreamFailure")


async def test_timeout(session: aiohttp.ClientSession) -> None:
    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/xrpc/com.example.slow", slow)
    async with TestServer(app, host="127.0.0.1") as server:
        xrpc = XrpcClient(session, str(server.make_url("")), timeout=0.2)
        with pytest.raises(UpstreamTimeoutError) as exc:
            await xrpc.query("com.example.slow")
        assert (exc.value.status, exc.value.error) == (504, "UpstreamTimeout")
