"""Several relay processes serving one stream: the ingesting relay publishes committed batches to
Redis, a serving relay on the same PostgreSQL database streams them (and replays from the
shared log)."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from sonet.relay.config import RelayMode
from tests.relay.conftest import RelayFactory, consume, eventually
from tests.relay.fake_pds import FakePds, PlcAccounts


async def test_serving_relay_streams_what_the_ingesting_relay_commits(
    relay_factory: RelayFactory, pds: FakePds, accounts: PlcAccounts, redis_url: str
) -> None:
    if relay_factory.backend != "postgres":  # type: ignore[attr-defined]
        pytest.skip("serving relays share the database event log (PostgreSQL)")
    stream = f"sonet:test:relay:{uuid.uuid4().hex}"
    alice = await accounts.create(pds.url, "alice.test", records=3)
    ingesting = await relay_factory(redis_url=redis_url, redis_stream=stream)
    schema = ingesting.relay.config.database_schema
    await ingesting.crawl(pds.hostname)
    await pds.wait_connected()
    await pds.emit(lambda seq: alice.commit(seq))  # before the serving relay starts
    await eventually(lambda: ingesting.relay.outbox.committed_seq == 1)

    serving = await relay_factory(
        redis_url=redis_url, redis_stream=stream, mode=RelayMode.SERVE, database_schema=schema
    )
    assert serving.relay.feed is not None
    try:
        async with consume(serving.url) as live, consume(serving.url, cursor=0) as replay:
            for _ in range(5):
                await pds.emit(lambda seq: alice.commit(seq))
            await live.wait_for(5)
            await replay.wait_for(6)
        assert [b["seq"] for b in live.messages()] == [2, 3, 4, 5, 6]
        assert [b["seq"] for b in replay.messages()] == [1, 2, 3, 4, 5, 6]
        assert not serving.relay.slurper.subscriptions  # a serving relay crawls nothing
        resp = await serving.client.post(
            "/xrpc/com.atproto.sync.requestCrawl", json={"hostname": pds.hostname}
        )
        assert resp.status == 501
    finally:
        redis = Redis.from_url(redis_url)
        await redis.delete(stream)
        await redis.aclose()
