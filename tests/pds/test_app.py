"""The PDS app starts on both databases and answers health checks and unknown methods."""

from __future__ import annotations

from tests.pds.conftest import PdsFactory, create_test_account


async def test_app_starts_and_hosts_repos(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[])
    resp = await pds.client.get("/xrpc/_health")
    assert resp.status == 200
    resp = await pds.client.get("/xrpc/com.example.nothing")
    assert resp.status == 501
    assert (await resp.json())["error"] == "MethodNotImplemented"
    did, key = await create_test_account(pds.ctx, "alice.test")
    assert (await pds.ctx.accounts.signing_key(did)).did() == key.did()
    assert (await pds.ctx.repos.head(did)).did == did


async def test_rate_limits_counted_in_redis(pds_factory: PdsFactory, redis_url: str) -> None:
    """With SONET_REDIS_URL the login rate limit is counted in Redis (shared by processes)."""
    import uuid

    import redis.asyncio as aioredis

    pds = await pds_factory(areas=["sonet.pds.api.server"], redis_url=redis_url)
    client = aioredis.from_url(redis_url)
    who = f"nobody{uuid.uuid4().hex[:8]}.test"
    try:
        resp = await pds.client.post(
            "/xrpc/com.atproto.server.createSession",
            json={"identifier": who, "password": "wrong-password"},
        )
        assert resp.status == 401
        keys = await client.keys(f"sonet:pds:*{who}*")
        assert keys
        await client.delete(*keys)
    finally:
        await client.aclose()
