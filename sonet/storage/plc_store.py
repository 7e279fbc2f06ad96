"""Storage of the PLC directory: every DID's operations, their order and nullification.

Appends are serialised by one sequence row (``SELECT ... FOR UPDATE`` on PostgreSQL, the single
writer on SQLite), so the log checked by an append is the log it extends: of two racing
updates of a DID exactly one wins, and ``seq`` and ``createdAt`` both increase strictly in
commit order, which keeps ``/export`` pagination lossless.
https://web.plc.directory/spec/v0.1/did-plc#audit-logs
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.identity.plc_errors import AppendConflictError
from sonet.identity.plc_log import LogEntry
from sonet.identity.plc_ops import AnyOp, op_cbor, op_cid
from sonet.repo.cbor import decode
from sonet.storage.database import Database
from sonet.storage.migrations import Migration, migrate

__all__ = ["AppendCheck", "PlcStore", "SequencedEntry", "migrate_plc"]

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND: Final = timedelta(milliseconds=1)

_meta = MetaData()
operations = Table(
    "plc_operations",
    _meta,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("did", String(64), nullable=False),
    Column("cid", String(100), nullable=False),
    Column("operation", LargeBinary, nullable=False),
    Column("nullified", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("did", "cid", name="plc_operations_did_cid"),
    Index("plc_operations_did_seq", "did", "seq"),
    Index("plc_operations_created_at", "created_at"),
)
sequence = Table(
    "plc_sequence",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_created_at", BigInteger, nullable=False),
)


async def _seed_sequence(conn: AsyncConnection) -> None:
    await conn.execute(sequence.insert().values(id=1, last_seq=0, last_created_at=0))


STEPS: Final = [
    Migration(1, "plc operations and sequence", tables=[operations, sequence], run=_seed_sequence)
]

AppendCheck = Callable[[list[LogEntry], datetime], Sequence[str]]
"""Judges an op against the DID's non-nullified entries at a timestamp; returns the CIDs it
nullifies, or raises a :class:`~sonet.identity.plc_errors.PlcError`."""


async def migrate_plc(db: Database) -> int:
    """Create or upgrade the PLC tables; returns the schema version."""
    return await migrate(db, "plc", STEPS)


def to_millis(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime."""
    return (moment - EPOCH) // MILLISECOND


def from_millis(millis: int) -> datetime:
    """The UTC datetime of epoch milliseconds."""
    return EPOCH + millis * MILLISECOND


@dataclass(frozen=True, slots=True)
class SequencedEntry:
    """A log entry with its directory-wide sequence number (``/export?after=<seq>``)."""

    seq: int
    entry: LogEntry


def _entry(row: Any) -> LogEntry:
    op = cast(AnyOp, decode(row.operation))
    return LogEntry(row.did, op, row.cid, bool(row.nullified), from_millis(row.created_at))


class PlcStore:
    """Queries and appends for the PLC directory over a :class:`Database`."""

    def __init__(self, db: Database, clock: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._clock = clock or (lambda: datetime.now(UTC))

    async def _entries(self, conn: AsyncConnection, did: str, *, nullified: bool) -> list[LogEntry]:
        query = select(operations).where(operations.c.did == did).order_by(operations.c.seq)
        if not nullified:
            query = query.where(operations.c.nullified.is_(False))
        return [_entry(row) for row in await conn.execute(query)]

    async def active_entries(self, did: str) -> list[LogEntry]:
        """The DID's non-nullified entries, oldest first (empty: unknown DID)."""
        async with self._db.read() as conn:
            return await self._entries(conn, did, nullified=False)

    async def audit_log(self, did: str) -> list[LogEntry]:
        """Every entry of the DID, nullified ones included, oldest first."""
        async with self._db.read() as conn:
            return await self._entries(conn, did, nullified=True)

    async def last_entry(self, did: str) -> LogEntry | None:
        """The DID's latest non-nullified entry."""
        query = (
            select(operations)
            .where(operations.c.did == did, operations.c.nullified.is_(False))
            .order_by(operations.c.seq.desc())
            .limit(1)
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _entry(row)

    async def append(self, did: str, op: AnyOp, check: AppendCheck) -> LogEntry:
        """Store ``op`` if ``check`` accepts it against the DID's current log, atomically."""
        cid = op_cid(op)
        block = op_cbor(op)
        try:
            async with self._db.write() as conn:
                head = (
                    await conn.execute(select(sequence).where(sequence.c.id == 1).with_for_update())
                ).one()
                active = await self._entries(conn, did, nullified=False)
                millis = max(to_millis(self._clock()), head.last_created_at + 1)
                created_at = from_millis(millis)
                nullified = list(check(active, created_at))
                seq = head.last_seq + 1
                await conn.execute(
                    operations.insert().values(
                        seq=seq,
                        did=did,
                        cid=cid,
                        operation=block,
                        nullified=False,
                        created_at=millis,
                    )
                )
                if nullified:
                    await conn.execute(
                        update(operations)
                        .where(operations.c.did == did, operations.c.cid.in_(nullified))
                        .values(nullified=True)
                    )
                await conn.execute(
                    update(sequence)
                    .where(sequence.c.id == 1)
                    .values(last_seq=seq, last_created_at=millis)
                )
        except IntegrityError:
            raise AppendConflictError(f"operation {cid} is already stored for {did}") from None
        return LogEntry(did, op, cid, False, created_at)

    async def export_after_seq(self, after: int, count: int) -> list[SequencedEntry]:
        """Up to ``count`` entries of every DID with ``seq > after``, in ``seq`` order."""
        query = (
            select(operations)
            .where(operations.c.seq > after)
            .order_by(operations.c.seq)
            .limit(count)
        )
        async with self._db.read() as conn:
            return [SequencedEntry(row.seq, _entry(row)) for row in await conn.execute(query)]

    async def export_after_time(self, after: datetime | None, count: int) -> list[LogEntry]:
        """Up to ``count`` entries of every DID created after ``after``, oldest first."""
        query = select(operations).order_by(operations.c.created_at, operations.c.cid).limit(count)
        if after is not None:
            query = query.where(operations.c.created_at > to_millis(after))
        async with self._db.read() as conn:
            return [_entry(row) for row in await conn.execute(query)]

    async def health(self) -> None:
        """Raise unless the database answers."""
        async with self._db.read() as conn:
            await conn.execute(text("SELECT 1"))
