"""The relay's own firehose: cursor replay, FutureCursor, OutdatedCursor, slow consumers, and
continuity across a restart."""

from __future__ import annotations

import asyncio
import base64
import os
import time

from sonet.sync.events import identity_body
from tests.relay.conftest import RelayFactory, RunningRelay, consume, eventually, stop_relay
from tests.relay.fake_pds import FakePds, PlcAccounts
from tests.relay.synthetic import now_iso


def emit_identities(running: RunningRelay, count: int) -> None:
    """Put ``count`` events straight into the relay's outgoing stream."""
    for i in range(count):
        did = f"did:web:user{i}.example.com"
        running.relay.outbox.emit(did, "#identity", identity_body(seq=0, did=did, time=now_iso()))


async def test_cursor_replay_pages_through_the_log_then_goes_live(
    relay_factory: RelayFactory,
) -> None:
    running = await relay_factory()
    emit_identities(running, 1_200)
    await running.relay.outbox.drain()
    async with (
        consume(running.url, cursor=0) as replaying,
        consume(running.url, cursor=1_150) as tail,
    ):
        await replaying.wait_for(1_200)
        await tail.wait_for(50)
        emit_identities(running, 3)
        await replaying.wait_for(1_203)
        await tail.wait_for(53)
    assert [b["seq"] for b in replaying.messages()] == list(range(1, 1_204))
    assert [b["seq"] for b in tail.messages()] == list(range(1_151, 1_204))


async def test_future_cursor(relay_factory: RelayFactory) -> None:
    running = await relay_factory()
    emit_identities(running, 2)
    await running.relay.outbox.drain()
    async with consume(running.url, cursor=3) as consumer:
        await consumer.wait_for(1)
        await eventually(lambda: consumer.closed)
    assert consumer.types() == ["FutureCursor"]


async def test_outdated_cursor_starts_at_the_oldest_event(relay_factory: RelayFactory) -> None:
    running = await relay_factory(event_log_segment_events=4)
    emit_identities(running, 10)
    await running.relay.outbox.drain()
    await running.relay.log.trim(time.time_ns() // 1000 + 1)
    oldest = await running.relay.log.oldest_seq()
    assert 1 < oldest <= 10
    async with consume(running.url, cursor=1) as consumer:
        await consumer.wait_for(1 + 11 - oldest)
    assert consumer.types()[0] == "#info"
    assert consumer.messages("#info")[0]["name"] == "OutdatedCursor"
    assert [b["seq"] for b in consumer.messages("#identity")] == list(range(oldest, 11))


async def test_slow_consumer_is_dropped_and_others_keep_up(
    relay_factory: RelayFactory, pds: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=2)
    running = await relay_factory(consumer_max_lag=20)
    await running.crawl(pds.hostname)
    await pds.wait_connected()
    reader, writer = await asyncio.open_connection("127.0.0.1", running.client.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /xrpc/com.atproto.sync.subscribeRepos HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{running.client.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    assert b" 101 " in await reader.readuntil(b"\r\n\r\n")
    big = "x" * 1_000_000  # enough to fill the socket buffers of the consumer that never reads
    async with consume(running.url) as fast:
        await eventually(lambda: len(running.relay.broadcaster.consumers) == 2)
        for _ in range(40):
            await pds.emit(lambda seq: alice.commit(seq, text=big))
            await asyncio.sleep(0.05)  # a pace the reading consumer keeps up with
        await fast.wait_for(40, timeout=30)
        await eventually(lambda: running.relay.broadcaster.dropped_slow == 1, timeout=30)
        await eventually(lambda: len(running.relay.broadcaster.consumers) == 1)
    assert fast.types() == ["#commit"] * 40
    writer.close()


async def test_restart_resumes_upstream_and_downstream_cursors(
    relay_factory: RelayFactory, pds: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=2)
    first = await relay_factory()
    await first.crawl(pds.hostname)
    await pds.wait_connected()
    async with consume(first.url) as consumer:
        for _ in range(3):
            await pds.emit(lambda seq: alice.commit(seq))
        await consumer.wait_for(3)
    await stop_relay(first)
    for _ in range(2):  # written while the relay is down
        await pds.emit(lambda seq: alice.commit(seq))
    schema = first.relay.config.database_schema
    second = await relay_factory(data_dir=first.relay.config.data_dir, database_schema=schema)
    async with consume(second.url, cursor=3) as consumer:
        await consumer.wait_for(2)
        await pds.emit(lambda seq: alice.commit(seq))
        await consumer.wait_for(3)
    assert pds.connects == [None, 3]
    assert [b["seq"] for b in consumer.messages()] == [4, 5, 6]
    revs = [b["rev"] for b in consumer.messages()]
    assert revs == sorted(revs) and len(set(revs)) == 3
    assert second.dropped(pds.hostname) == {}


async def test_crash_after_logging_does_not_duplicate_events(
    relay_factory: RelayFactory, pds: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=2)
    first = await relay_factory(checkpoint_period=3600.0)
    await first.crawl(pds.hostname)
    await pds.wait_connected()
    async with consume(first.url) as consumer:
        await pds.emit(lambda seq: alice.commit(seq))
        await consumer.wait_for(1)
        await first.relay.checkpoint()  # the last checkpoint before the crash
        for _ in range(2):
            await pds.emit(lambda seq: alice.commit(seq))
        await consumer.wait_for(3)

    async def crashed() -> None:  # the process dies: no final checkpoint
        return None

    first.relay.checkpoint = crashed  # type: ignore[method-assign]
    await stop_relay(first)
    schema = first.relay.config.database_schema
    second = await relay_factory(data_dir=first.relay.config.data_dir, database_schema=schema)
    await pds.wait_connected()
    async with consume(second.url, cursor=0) as consumer:
        await pds.emit(lambda seq: alice.commit(seq))
        await consumer.wait_for(4)
        subscription = second.relay.slurper.subscriptions[pds.hostname]
        await eventually(lambda: subscription.context.processed_seq == pds.seq)
        await second.relay.outbox.drain()
    assert pds.connects == [None, 1]  # the host replays what the checkpoint did not cover
    assert [b["seq"] for b in consumer.messages()] == [1, 2, 3, 4]
    assert second.dropped(pds.hostname) == {"rev-out-of-order": 2}
