"""Relay account and host storage on both databases (the shared ``database`` fixture)."""

from __future__ import annotations

from sonet.relay.accounts import AccountDirectory, RepoHead
from sonet.relay.relay import COMPONENT, MIGRATIONS
from sonet.repo.cid import cid_for_cbor
from sonet.storage.database import Database
from sonet.storage.migrations import migrate
from sonet.storage.relay_host_store import HostStore
from sonet.storage.relay_meta_store import RelayMetaStore


def head(rev: str) -> RepoHead:
    return RepoHead(rev, cid_for_cbor(rev.encode()), cid_for_cbor(rev.encode() * 2))


async def add_host(db: Database, name: str = "pds.example.com", limit: int = 1) -> int:
    async with db.write() as conn:
        host = await HostStore().insert(
            conn, hostname=name, no_ssl=False, account_limit=limit, trusted=False, status="active"
        )
    return host.id


async def test_accounts_limits_and_pending_heads(database: Database) -> None:
    await migrate(database, COMPONENT, MIGRATIONS)
    host_id = await add_host(database, limit=1)
    accounts = AccountDirectory(database, max_cached=1)
    alice = await accounts.create("did:plc:" + "a" * 24, host_id)
    bob = await accounts.create("did:plc:" + "b" * 24, host_id)
    assert alice.status == "active" and alice.active
    assert bob.status == "host-throttled" and not bob.active and bob.public_status == "throttled"

    accounts.record_repo(alice, head("3jzfcijpj2z2a"))
    taken = accounts.take_dirty()
    accounts.mark_logged(taken)
    await accounts.get(bob.did)  # evicts alice from the cache
    again = await accounts.get(alice.did)
    assert again is not None and again is not alice
    assert again.repo == head("3jzfcijpj2z2a")  # the unsaved head is not lost

    logged = accounts.take_logged()
    async with database.write() as conn:
        await accounts.store.save_repos(conn, [(u, h.state()) for u, h in logged.values()])
    accounts.saved(True)
    fresh = AccountDirectory(database)
    stored = await fresh.get(alice.did)
    assert stored is not None and stored.repo == head("3jzfcijpj2z2a")

    async with database.read() as conn:
        host = await HostStore().get_by_id(conn, host_id)
    assert host is not None and host.account_count == 2


async def test_failed_checkpoint_keeps_heads(database: Database) -> None:
    await migrate(database, COMPONENT, MIGRATIONS)
    host_id = await add_host(database, limit=10)
    accounts = AccountDirectory(database)
    alice = await accounts.create("did:plc:" + "c" * 24, host_id)
    accounts.record_repo(alice, head("3jzfcijpj2z2a"))
    accounts.mark_logged(accounts.take_dirty())
    accounts.take_logged()
    accounts.record_repo(alice, head("3jzfcijpj2z2b"))
    accounts.mark_logged(accounts.take_dirty())
    accounts.saved(False)
    assert accounts.take_logged()[alice.did][1] == head("3jzfcijpj2z2b")


async def test_hosts_domain_bans_and_meta(database: Database) -> None:
    await migrate(database, COMPONENT, MIGRATIONS)
    store, meta = HostStore(), RelayMetaStore()
    first = await add_host(database, "a.example.com")
    second = await add_host(database, "b.example.com")
    async with database.write() as conn:
        assert (
            await store.insert(
                conn,
                hostname="a.example.com",
                no_ssl=True,
                account_limit=5,
                trusted=True,
                status="active",
            )
        ).id == first
        await store.save_cursors(conn, [(first, 10), (second, 20)])
        await store.set_status(conn, second, "banned")
        await store.ban_domain(conn, "evil.example")
        await meta.put(conn, "checkpoint_seq", 7)
        await meta.put(conn, "checkpoint_seq", 8)
    async with database.read() as conn:
        hosts = await store.list_hosts(conn, ever_active=True)
        assert [(h.hostname, h.last_seq) for h in hosts] == [
            ("a.example.com", 10),
            ("b.example.com", 20),
        ]
        assert [h.id for h in await store.list_hosts(conn, status="banned")] == [second]
        assert await store.is_domain_banned(conn, "pds.evil.example")
        assert await store.is_domain_banned(conn, "evil.example")
        assert not await store.is_domain_banned(conn, "notevil.example")
        assert await meta.get(conn, "checkpoint_seq") == 8
        assert await meta.get(conn, "other") is None
