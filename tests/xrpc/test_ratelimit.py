"""Rate limits: the in-memory and Redis backends, and the HTTP behaviour of limited routes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from sonet.xrpc import (
    HandlerContext,
    MemoryRateLimitBackend,
    RateLimit,
    RedisRateLimitBackend,
    XrpcRouter,
)
from sonet.xrpc.ratelimit import RateLimitBackend
from tests.xrpc.toy import ALICE, ALICE_HANDLE, Client, Toy, expect_error

CREATE_SESSION = "/xrpc/com.atproto.server.createSession"
LOGIN = {"identifier": ALICE_HANDLE, "password": "pw"}


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"sonet-test:{uuid.uuid4().hex}:"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_backend_windows() -> None:
    clock = FakeClock()
    backend = MemoryRateLimitBackend(clock)
    assert await backend.consume("k", 1, 10_000) == (1, 10_000)
    clock.now += 4
    assert await backend.consume("k", 2, 10_000) == (3, 6000)
    clock.now += 6
    assert await backend.consume("k", 1, 10_000) == (1, 10_000)
    await backend.reset("k")
    assert await backend.consume("k", 1, 10_000) == (1, 10_000)
    assert await backend.consume("other", 1, 10_000) == (1, 10_000)


async def test_memory_backend_prunes_expired_windows() -> None:
    clock = FakeClock()
    backend = MemoryRateLimitBackend(clock)
    for i in range(100):
        await backend.consume(f"k{i}", 1, 1000)
    clock.now += 5
    for _ in range(5000):
        await backend.consume("hot", 1, 1000_000)
    assert len(backend) == 1


async def test_redis_backend(redis_client: Redis, prefix: str) -> None:
    backend = RedisRateLimitBackend(redis_client, prefix)
    assert (await backend.consume("k", 1, 60_000))[0] == 1
    consumed, ttl = await backend.consume("k", 2, 60_000)
    assert consumed == 3
    assert 55_000 < ttl <= 60_000
    assert 0 < await redis_client.pttl(prefix + "k") <= 60_000
    await backend.reset("k")
    assert await redis_client.exists(prefix + "k") == 0
    assert (await backend.consume("k", 1, 60_000))[0] == 1
    await redis_client.delete(prefix + "k")


async def test_redis_backend_is_atomic(redis_client: Redis, prefix: str) -> None:
    backend = RedisRateLimitBackend(redis_client, prefix)
    results = await asyncio.gather(*(backend.consume("k", 1, 60_000) for _ in range(50)))
    assert sorted(consumed for consumed, _ in results) == list(range(1, 51))
    await redis_client.delete(prefix + "k")


async def test_redis_window_expires(redis_client: Redis, prefix: str) -> None:
    backend = RedisRateLimitBackend(redis_client, prefix)
    await backend.consume("k", 5, 50)
    await asyncio.sleep(0.1)
    assert (await backend.consume("k", 1, 50))[0] == 1


async def test_route_limit_headers_and_429(client: Client) -> None:
    remaining = []
    for _ in range(3):
        resp = await client.post(CREATE_SESSION, json=LOGIN)
        assert resp.status == 200, await resp.text()
        assert resp.headers["RateLimit-Limit"] == "3"
        assert resp.headers["RateLimit-Policy"] == "3;w=60"
        assert 0 <= int(resp.headers["RateLimit-Reset"]) - time.time() <= 61
        remaining.append(resp.headers["RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    resp = await client.post(CREATE_SESSION, json=LOGIN)
    await expect_error(resp, 429, "RateLimitExceeded", "Rate Limit Exceeded")
    assert resp.headers["RateLimit-Remaining"] == "0"
    assert 0 < int(resp.headers["Retry-After"]) <= 60


async def test_limit_per_account(client: Client, toy: Toy) -> None:
    url = "/xrpc/app.bsky.actor.getProfile"
    alice = {"Authorization": f"Bearer {toy.tokens.create_access(ALICE)}"}
    bob = {
        "Authorization": f"Bearer {toy.tokens.create_access('did:plc:bob234567abcdefghijklmno')}"
    }
    params = {"actor": ALICE_HANDLE}
    assert [(await client.get(url, params=params, headers=alice)).status for _ in range(3)] == [
        200,
        200,
        429,
    ]
    assert (await client.get(url, params=params, headers=bob)).status == 200
    assert (await client.get(url, params=params)).status == 200  # anonymous: per IP


async def ok(_ctx: HandlerContext[Any]) -> dict[str, Any]:
    return {"did": ALICE, "availableUserDomains": []}


def limited_app(backend: RateLimitBackend, **options: Any) -> web.Application:
    router = XrpcRouter(rate_limit_backend=backend, **options)
    router.query(
        "com.atproto.server.describeServer", ok, rate_limits=[RateLimit("describe", 3, 60)]
    )
    app = web.Application()
    router.install(app)
    return app


async def test_global_limits_with_bypass() -> None:
    app = limited_app(
        MemoryRateLimitBackend(),
        global_rate_limits=[RateLimit("global", 5, 60)],
        rate_limit_bypass=lambda ctx: ctx.request.headers.get("x-ratelimit-bypass") == "let-me",
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        resp = await client.get("/xrpc/com.atproto.server.describeServer")
        assert resp.headers["RateLimit-Limit"] == "3"  # the tighter of route and global limit
        statuses = [(await client.get("/xrpc/com.example.unknown.method")).status for _ in range(5)]
        assert statuses == [501, 501, 501, 501, 429]
        resp = await client.get("/xrpc/com.atproto.server.describeServer")
        await expect_error(resp, 429, "RateLimitExceeded")
        resp = await client.get(
            "/xrpc/com.atproto.server.describeServer", headers={"x-ratelimit-bypass": "let-me"}
        )
        assert resp.status == 200
        assert "RateLimit-Limit" not in resp.headers


async def test_redis_limits_are_shared_between_servers(redis_client: Redis, prefix: str) -> None:
    apps = [limited_app(RedisRateLimitBackend(redis_client, prefix)) for _ in range(2)]
    async with (
        TestClient(TestServer(apps[0], host="127.0.0.1")) as first,
        TestClient(TestServer(apps[1], host="127.0.0.1")) as second,
    ):
        url = "/xrpc/com.atproto.server.describeServer"
        statuses = [
            (await first.get(url)).status,
            (await second.get(url)).status,
            (await first.get(url)).status,
            (await second.get(url)).status,
        ]
    assert statuses == [200, 200, 200, 429]
    keys = [key async for key in redis_client.scan_iter(match=prefix + "*")]
    assert keys
    await redis_client.delete(*keys)


class BrokenBackend:
    async def consume(self, key: str, points: int, window_ms: int) -> tuple[int, int]:
        raise ConnectionError("redis is down")

    async def reset(self, key: str) -> None:
        raise ConnectionError("redis is down")


async def test_backend_failure_fails_open_or_closed(caplog: pytest.LogCaptureFixture) -> None:
    router = XrpcRouter(rate_limit_backend=BrokenBackend())
    router.query("com.atproto.server.describeServer", ok, rate_limits=[RateLimit("open", 1, 60)])
    router.query(
        "com.atproto.identity.resolveHandle",
        ok,
        rate_limits=[RateLimit("closed", 1, 60, fail_closed=True)],
    )
    app = web.Application()
    router.install(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/xrpc/com.atproto.server.describeServer")).status == 200
        resp = await client.get(
            "/xrpc/com.atproto.identity.resolveHandle", params={"handle": ALICE_HANDLE}
        )
        await expect_error(resp, 500, "InternalServerError")
    assert "redis is down" in caplog.text


def test_limits_need_points_and_duration() -> None:
    with pytest.raises(ValueError):
        RateLimit("bad", 0, 60)
    with pytest.raises(ValueError):
        RateLimit("bad", 1, 0)
