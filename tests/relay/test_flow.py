"""Events flow from a scripted PDS through the relay to a consumer."""

from __future__ import annotations

from dataclasses import replace

from sonet.sync.events import info_body
from sonet.xrpc.frames import MessageFrame
from tests.relay.conftest import RelayFactory, consume, eventually
from tests.relay.fake_pds import FakePds, PlcAccounts
from tests.relay.synthetic import account_frame, identity_frame


async def test_commits_flow_to_consumers(
    relay_factory: RelayFactory, pds: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=20)
    running = await relay_factory()
    await running.crawl(pds.hostname)
    await pds.wait_connected()
    async with consume(running.url) as consumer:
        for _ in range(3):
            await pds.emit(lambda seq: alice.commit(seq))
        await pds.emit(lambda seq: identity_frame(seq, alice.did, "alice.test"))
        await pds.emit(lambda seq: account_frame(seq, alice.did, active=True))
        await consumer.wait_for(5)
    assert consumer.types() == ["#commit", "#commit", "#commit", "#identity", "#account"]
    bodies = consumer.messages()
    assert [b["seq"] for b in bodies] == [1, 2, 3, 4, 5]
    assert bodies[0]["repo"] == alice.did
    assert bodies[3]["handle"] == "alice.test"
    assert running.dropped(pds.hostname) == {}


async def test_sync_and_info_messages(
    relay_factory: RelayFactory, pds: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=5)
    running = await relay_factory()
    await running.crawl(pds.hostname)
    await pds.wait_connected()
    async with consume(running.url) as consumer:
        await pds.emit(lambda seq: alice.commit(seq))
        await pds.push(MessageFrame(info_body("OutdatedCursor"), "#info").to_bytes())
        await pds.emit(lambda seq: alice.sync_frame(seq))
        await pds.emit(lambda seq: alice.commit(seq))
        await consumer.wait_for(3)
    assert consumer.types() == ["#commit", "#sync", "#commit"]
    sync = consumer.messages("#sync")[0]
    assert sync["rev"] == consumer.messages("#commit")[1]["since"]
    account = await running.relay.get_account(alice.did)
    assert account is not None and account.repo is not None and account.repo.rev == alice.rev


async def test_future_cursor_makes_the_host_idle(
    relay_factory: RelayFactory, pds: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=2)
    running = await relay_factory()
    await running.crawl(pds.hostname)
    await pds.wait_connected()
    for _ in range(3):
        await pds.emit(lambda seq: alice.commit(seq))
    subscription = running.relay.slurper.subscriptions[pds.hostname]
    await eventually(lambda: subscription.context.processed_seq == 3)
    pds.history.clear()
    pds.seq = 0  # the host lost its event log
    await pds.disconnect_all()
    await eventually(lambda: not running.relay.slurper.is_subscribed(pds.hostname))
    assert pds.connects == [None, 3]
    host = await running.relay.hosts.get(pds.hostname)
    assert host is not None and host.status == "idle"


async def test_unreachable_host_goes_offline(
    relay_factory: RelayFactory, pds: FakePds, accounts: PlcAccounts
) -> None:
    running = await relay_factory(max_dial_failures=2, reconnect_max_delay=0.2)
    await running.crawl(pds.hostname)
    await pds.wait_connected()
    await running.relay.hosts.block(pds.hostname)  # stop following it...
    await running.relay.hosts.unblock(pds.hostname)
    host = await running.relay.hosts.get(pds.hostname)
    assert host is not None
    dead = replace(host, hostname="localhost:1")  # ...and point a subscription at a closed port
    running.relay.slurper.subscribe(dead)
    await eventually(lambda: not running.relay.slurper.is_subscribed(dead.hostname), timeout=15)
    host = await running.relay.hosts.get(pds.hostname)
    assert host is not None and host.status == "offline"
