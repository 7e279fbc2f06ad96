"""The PLC store on SQLite and PostgreSQL: appends, nullification, races and export cursors."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from sonet.crypto import Keypair, generate_keypair
from sonet.identity.plc_errors import AppendConflictError, MisorderedOperationError, PlcError
from sonet.identity.plc_log import LogEntry, assure_valid_next_op
from sonet.identity.plc_ops import AnyOp, Operation, create_atproto_op, op_cid, update_operation
from sonet.storage.database import Database
from sonet.storage.migrations import schema_version
from sonet.storage.plc_store import AppendCheck, PlcStore, migrate_plc

T0 = datetime(2025, 6, 1, tzinfo=UTC)


class Clock:
    """A settable clock for the PLC store and server (starts at :data:`T0`)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def rules(did: str, op: AnyOp) -> AppendCheck:
    def check(active: list[LogEntry], at: datetime) -> Sequence[str]:
        return assure_valid_next_op(did, active, op, at).nullified

    return check


def accept_all(_active: list[LogEntry], _at: datetime) -> Sequence[str]:
    return ()


def new_did() -> tuple[str, Operation, Keypair, Keypair]:
    recovery, rotation = generate_keypair("p256"), generate_keypair()
    did, op = create_atproto_op(
        signing_key=rotation.did(),
        handle="a.test",
        pds_endpoint="https://pds.test",
        rotation_keys=[recovery.did(), rotation.did()],
        signer=rotation,
    )
    return did, op, recovery, rotation


@pytest.fixture
async def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(database: Database, clock: Clock) -> PlcStore:
    await migrate_plc(database)
    return PlcStore(database, clock=clock)


async def test_migrations_are_idempotent(database: Database) -> None:
    assert await migrate_plc(database) == 1
    assert await migrate_plc(database) == 1
    assert await schema_version(database, "plc") == 1


async def test_append_and_read(store: PlcStore, clock: Clock) -> None:
    did, genesis, _, rotation = new_did()
    assert await store.last_entry(did) is None
    assert await store.active_entries(did) == []
    entry = await store.append(did, genesis, rules(did, genesis))
    assert entry.cid == op_cid(genesis) and entry.created_at == T0
    clock.now += timedelta(minutes=1)
    update = update_operation(genesis, rotation, handle="b.test")
    await store.append(did, update, rules(did, update))
    last = await store.last_entry(did)
    assert last is not None and last.operation == update and last.cid == op_cid(update)
    assert [e.cid for e in await store.audit_log(did)] == [op_cid(genesis), op_cid(update)]
    await store.health()


async def test_rejected_op_leaves_nothing(store: PlcStore) -> None:
    did, genesis, _, _ = new_did()
    await store.append(did, genesis, rules(did, genesis))
    with pytest.raises(MisorderedOperationError):
        await store.append(did, genesis, rules(did, genesis))
    assert len(await store.audit_log(did)) == 1
    assert [s.seq for s in await store.export_after_seq(0, 10)] == [1]


async def test_nullification_is_stored(store: PlcStore, clock: Clock) -> None:
    did, genesis, recovery, rotation = new_did()
    await store.append(did, genesis, rules(did, genesis))
    clock.now += timedelta(hours=1)
    bad = update_operation(genesis, rotation, handle="bad.test")
    await store.append(did, bad, rules(did, bad))
    clock.now += timedelta(hours=71)
    fix = update_operation(genesis, recovery, handle="good.test")
    await store.append(did, fix, rules(did, fix))
    audit = await store.audit_log(did)
    assert [(e.cid, e.nullified) for e in audit] == [
        (op_cid(genesis), False),
        (op_cid(bad), True),
        (op_cid(fix), False),
    ]
    assert [e.cid for e in await store.active_entries(did)] == [op_cid(genesis), op_cid(fix)]


async def test_racing_updates_exactly_one_wins(store: PlcStore) -> None:
    did, genesis, _, rotation = new_did()
    await store.append(did, genesis, rules(did, genesis))
    updates = [update_operation(genesis, rotation, handle=f"racer{i}.test") for i in range(6)]
    results = await asyncio.gather(
        *(store.append(did, u, rules(did, u)) for u in updates), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, LogEntry)]
    assert len(winners) == 1
    assert all(isinstance(r, PlcError) for r in results if not isinstance(r, LogEntry))
    active = await store.active_entries(did)
    assert [e.cid for e in active] == [op_cid(genesis), winners[0].cid]


async def test_same_op_twice_is_a_conflict(store: PlcStore) -> None:
    did, genesis, _, _ = new_did()
    await store.append(did, genesis, accept_all)
    with pytest.raises(AppendConflictError):
        await store.append(did, genesis, accept_all)


async def test_created_at_strictly_increases(store: PlcStore) -> None:
    entries = []
    for _ in range(5):  # the clock never moves
        did, genesis, _, _ = new_did()
        entries.append(await store.append(did, genesis, rules(did, genesis)))
    stamps = [e.created_at for e in entries]
    assert stamps == sorted(set(stamps))
    assert stamps[1] - stamps[0] == timedelta(milliseconds=1)


async def test_export_pages(store: PlcStore, clock: Clock) -> None:
    dids = []
    for _ in range(7):
        clock.now += timedelta(seconds=1)
        did, genesis, _, _ = new_did()
        dids.append(did)
        await store.append(did, genesis, rules(did, genesis))
    page = await store.export_after_seq(0, 3)
    assert [p.seq for p in page] == [1, 2, 3]
    page = await store.export_after_seq(3, 10)
    assert [p.entry.did for p in page] == dids[3:]
    assert await store.export_after_seq(7, 10) == []
    seen: list[str] = []
    after = None
    while batch := await store.export_after_time(after, 2):
        seen.extend(e.did for e in batch)
        after = batch[-1].created_at
    assert seen == dids
