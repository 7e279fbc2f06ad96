"""Events flow from a scripted PDS through the relay to a consumer."""

from __future__ import annotations

from tests.relay.conftest import RelayFactory, consume
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
