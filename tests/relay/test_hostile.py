"""Hostile hosts on loopback: each bad event is dropped for its own reason, counted per host, and
the relay keeps streaming the well-behaved host's events."""

from __future__ import annotations

import time

from sonet.crypto import generate_keypair
from sonet.repo.cid import cid_for_cbor
from sonet.syntax.tid import tid_from
from tests.relay.conftest import Consumer, RelayFactory, RunningRelay, consume, eventually
from tests.relay.fake_pds import FakePds, PlcAccounts
from tests.relay.synthetic import SyntheticAccount, account_frame, identity_frame


async def start(relay_factory: RelayFactory, *hosts: FakePds, **config: object) -> RunningRelay:
    running = await relay_factory(**config)
    for host in hosts:
        await running.crawl(host.hostname)
        await host.wait_connected()
    return running


async def good_commit(pds: FakePds, account: SyntheticAccount) -> int:
    return await pds.emit(lambda seq: account.commit(seq))


async def settle(running: RunningRelay, pds: FakePds) -> None:
    """Wait until the relay has handled everything ``pds`` sent."""
    subscription = running.relay.slurper.subscriptions[pds.hostname]
    await eventually(lambda: subscription.context.processed_seq >= pds.seq)
    await running.relay.outbox.drain()


def repos(consumer: Consumer) -> list[str]:
    return [body["repo"] for body in consumer.messages("#commit")]


async def test_each_bad_commit_is_dropped_for_its_reason(
    relay_factory: RelayFactory, pds: FakePds, pds2: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=10)
    mallory = await accounts.create(pds2.url, "mallory.test", records=10)
    running = await start(relay_factory, pds, pds2)
    async with consume(running.url) as consumer:
        await good_commit(pds, alice)
        await good_commit(pds2, mallory)
        await consumer.wait_for(2)

        # forged signature
        forged = mallory.build_commit(key=generate_keypair("k256"))
        await pds2.emit(lambda seq: forged.frame(seq))
        await good_commit(pds, alice)
        # rev going backwards (and a replay of the current rev)
        old = mallory.build_commit(rev=tid_from(1_000_000, 0))
        await pds2.emit(lambda seq: old.frame(seq))
        replay = mallory.build_commit(rev=mallory.rev)
        await pds2.emit(lambda seq: replay.frame(seq))
        # a proof that does not match prevData
        lying = mallory.build_commit()
        lying.prev_data = cid_for_cbor(b"\xa0")
        await pds2.emit(lambda seq: lying.frame(seq))
        # a rev in the future
        future = mallory.build_commit(rev=tid_from(time.time_ns() // 1000 + 3_600_000_000, 0))
        await pds2.emit(lambda seq: future.frame(seq))
        # a commit for an account hosted elsewhere, signed by its real key
        stolen = alice.build_commit()
        await pds2.emit(lambda seq: stolen.frame(seq))
        # malformed frames and CARs
        await pds2.emit(lambda seq: b"\xff\xfe not cbor")
        bad_car = mallory.build_commit()
        await pds2.emit(lambda seq: bad_car.frame(seq, blocks=b"\x01\x02garbage"))
        await good_commit(pds, alice)
        await good_commit(pds2, mallory)

        await settle(running, pds2)
        await settle(running, pds)
        await consumer.wait_for(5)

    seen = repos(consumer)  # the order between hosts is not defined
    assert (seen.count(alice.did), seen.count(mallory.did), len(seen)) == (3, 2, 5)
    assert running.dropped(pds.hostname) == {}
    assert running.dropped(pds2.hostname) == {
        "bad-signature": 1,
        "rev-out-of-order": 2,
        "bad-proof": 1,
        "future-rev": 1,
        "account-host-mismatch": 1,
        "malformed-frame": 1,
        "bad-car": 1,
    }
    seqs = [body["seq"] for body in consumer.messages()]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


async def test_old_key_after_rotation(
    relay_factory: RelayFactory, pds: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=5)
    running = await start(relay_factory, pds)
    async with consume(running.url) as consumer:
        await good_commit(pds, alice)
        await consumer.wait_for(1)  # resolved (and verified) before the key changes
        old_key, new_key = alice.key, generate_keypair("k256")
        await accounts.update(alice.did, signing_key=new_key)
        await pds.emit(lambda seq: identity_frame(seq, alice.did, "alice.test"))
        signed_by_old = alice.build_commit(key=old_key)
        await pds.emit(lambda seq: signed_by_old.frame(seq))
        alice.key = new_key
        await good_commit(pds, alice)
        await settle(running, pds)
        await consumer.wait_for(3)
    assert consumer.types() == ["#commit", "#identity", "#commit"]
    assert running.dropped(pds.hostname) == {"bad-signature": 1}


async def test_key_rotation_noticed_without_identity_event(
    relay_factory: RelayFactory, pds: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=5)
    running = await start(relay_factory, pds)
    async with consume(running.url) as consumer:
        await good_commit(pds, alice)
        await consumer.wait_for(1)
        alice.key = generate_keypair("k256")
        await accounts.update(alice.did, signing_key=alice.key)
        await good_commit(pds, alice)  # the relay re-resolves once before refusing
        await consumer.wait_for(2)
    assert running.dropped(pds.hostname) == {}


async def test_host_cannot_speak_for_accounts_it_does_not_host(
    relay_factory: RelayFactory, pds: FakePds, pds2: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=5)
    running = await start(relay_factory, pds, pds2)
    async with consume(running.url) as consumer:
        await good_commit(pds, alice)
        await consumer.wait_for(1)
        await pds2.emit(lambda seq: account_frame(seq, alice.did, active=False, status="takendown"))
        await pds2.emit(lambda seq: identity_frame(seq, alice.did, "evil.test"))
        await pds2.emit(lambda seq: alice.sync_frame(seq))
        await settle(running, pds2)
        await good_commit(pds, alice)
        await consumer.wait_for(3)
    # the identity event is passed on (anyone may say an identity changed) without the handle
    assert consumer.types() == ["#commit", "#identity", "#commit"]
    assert "handle" not in consumer.messages("#identity")[0]
    assert running.dropped(pds2.hostname) == {"account-host-mismatch": 2}
    account = await running.relay.get_account(alice.did)
    assert account is not None and account.active


async def test_account_migration_is_followed(
    relay_factory: RelayFactory, pds: FakePds, pds2: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=5)
    running = await start(relay_factory, pds, pds2)
    async with consume(running.url) as consumer:
        await good_commit(pds, alice)
        await consumer.wait_for(1)
        await accounts.update(alice.did, pds_url=pds2.url)
        await pds2.emit(lambda seq: identity_frame(seq, alice.did, "alice.test"))
        await good_commit(pds2, alice)
        await settle(running, pds2)
        await good_commit(pds, alice)  # the old host no longer speaks for alice
        await settle(running, pds)
        await consumer.wait_for(3)
    assert consumer.types() == ["#commit", "#identity", "#commit"]
    assert running.dropped(pds.hostname) == {"account-host-mismatch": 1}
    host2 = await running.relay.hosts.get(pds2.hostname)
    assert host2 is not None and host2.account_count == 1


async def test_inactive_accounts_and_takedowns(
    relay_factory: RelayFactory, pds: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=5)
    running = await start(relay_factory, pds)
    auth = running.admin
    async with consume(running.url) as consumer:
        await good_commit(pds, alice)
        await pds.emit(lambda seq: account_frame(seq, alice.did, False, "deactivated"))
        await good_commit(pds, alice)  # dropped: deactivated
        await pds.emit(lambda seq: account_frame(seq, alice.did, True))
        await good_commit(pds, alice)
        await consumer.wait_for(4)
        resp = await running.client.post(
            "/admin/repo/takeDown", json={"did": alice.did}, headers=auth
        )
        assert resp.status == 200
        await good_commit(pds, alice)  # dropped: taken down
        await settle(running, pds)
        resp = await running.client.post(
            "/admin/repo/reverseTakedown", json={"did": alice.did}, headers=auth
        )
        assert resp.status == 200
        await good_commit(pds, alice)
        await consumer.wait_for(7)
    assert consumer.types() == [
        "#commit",
        "#account",
        "#account",
        "#commit",
        "#account",
        "#account",
        "#commit",
    ]
    accounts_seen = consumer.messages("#account")
    assert accounts_seen[0] == {**accounts_seen[0], "active": False, "status": "deactivated"}
    assert accounts_seen[2] == {**accounts_seen[2], "active": False, "status": "takendown"}
    assert accounts_seen[3]["active"] is True and "status" not in accounts_seen[3]
    assert running.dropped(pds.hostname) == {"inactive-account": 2}


async def test_account_limit_throttles_new_accounts(
    relay_factory: RelayFactory, pds: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=2)
    bob = await accounts.create(pds.url, "bob.test", records=2)
    running = await start(relay_factory, pds, default_account_limit=1)
    async with consume(running.url) as consumer:
        await good_commit(pds, alice)
        await good_commit(pds, bob)  # over the host's limit: bob is host-throttled
        await settle(running, pds)
        resp = await running.client.post(
            "/admin/pds/changeLimits",
            json={"host": pds.hostname, "repo_limit": 2},
            headers=running.admin,
        )
        assert resp.status == 200, await resp.text()
        await good_commit(pds, bob)
        await consumer.wait_for(3)
    assert consumer.types() == ["#commit", "#account", "#commit"]
    assert consumer.messages("#account")[0]["did"] == bob.did
    assert running.dropped(pds.hostname) == {"inactive-account": 1}


async def test_flood_past_the_quota_is_throttled_not_lost(
    relay_factory: RelayFactory, pds: FakePds, pds2: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=2)
    mallory = await accounts.create(pds2.url, "mallory.test", records=2)
    running = await start(
        relay_factory,
        pds,
        pds2,
        baseline_per_second=10,
        trusted_domains=(pds.hostname,),
    )
    flood = 40
    frames = []
    for _ in range(flood):
        seq = pds2.next_seq()
        frames.append((seq, mallory.commit(seq)))
    async with consume(running.url) as consumer:
        started = time.monotonic()
        for seq, frame in frames:
            await pds2.push(frame, seq)
        # the trusted host is not slowed down by the flood
        await good_commit(pds, alice)
        await eventually(lambda: alice.did in repos(consumer), timeout=5)
        good_latency = time.monotonic() - started
        await consumer.wait_for(flood + 1, timeout=30)
        flood_time = time.monotonic() - started
    subscription = running.relay.slurper.subscriptions[pds2.hostname]
    assert subscription.limiter.throttled > 0
    assert flood_time >= 2.0  # 40 events at 10/s cannot pass in less than about 3 s
    assert good_latency < flood_time
    assert repos(consumer).count(mallory.did) == flood  # throttled, none lost
    assert running.dropped(pds2.hostname) == {}


async def test_lenient_mode_accepts_legacy_commits(
    relay_factory: RelayFactory, pds: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=5)
    strict = await start(relay_factory, pds)
    lenient = await start(relay_factory, pds, lenient_sync_validation=True)

    def legacy(seq: int) -> bytes:
        built = alice.build_commit()
        built.prev_data = None  # a host that predates sync 1.1
        alice.advance(built)
        return built.frame(seq)

    async with consume(strict.url) as strict_consumer, consume(lenient.url) as lenient_consumer:
        await good_commit(pds, alice)
        await pds.emit(legacy)
        await settle(strict, pds)
        await settle(lenient, pds)
        await lenient_consumer.wait_for(2)
        await strict_consumer.wait_for(1)
    assert len(strict_consumer.frames) == 1
    assert strict.dropped(pds.hostname) == {"missing-prev-data": 1}
    assert lenient.dropped(pds.hostname) == {}
    assert lenient.relay.stats.warnings[(pds.hostname, "missing-prev-data")] == 1


async def test_verification_in_worker_processes(
    relay_factory: RelayFactory, pds: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=5)
    running = await start(relay_factory, pds, verify_workers=1)
    async with consume(running.url) as consumer:
        for _ in range(20):
            await good_commit(pds, alice)
        forged = alice.build_commit(key=generate_keypair("k256"))
        await pds.emit(lambda seq: forged.frame(seq))
        await good_commit(pds, alice)
        await settle(running, pds)
        await consumer.wait_for(21)
    assert running.relay.pool.jobs >= 22
    assert running.dropped(pds.hostname) == {"bad-signature": 1}
