"""The persisted, sequenced event log behind ``subscribeRepos`` (PDS and relay).

Sequence numbers are assigned inside the writing transaction, under a lock (SQLite's single writer,
a PostgreSQL transaction-level advisory lock), so they are gap-free and commit in order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.migrations import Migration
from sonet.storage.raw_sqlite import DeferredStatements, run_on_sqlite

__all__ = ["MIGRATIONS", "SequencedEvent", "SequencerStore"]

meta = MetaData()

repo_seq = Table(
    "repo_seq",
    meta,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("did", String(2048), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("frame", LargeBinary, nullable=False),
    Column("sequenced_at", BigInteger, nullable=False),
    Index("repo_seq_did", "did"),
    Index("repo_seq_time", "sequenced_at"),
)

MIGRATIONS = [Migration(1, "event log", tables=[repo_seq])]

_SEQ_LOCK = 0x50D5_5E0  # arbitrary advisory-lock id for sequence assignment


@dataclass(frozen=True, slots=True)
class SequencedEvent:
    """One persisted event: its number, repo, type and the complete websocket frame."""

    seq: int
    did: str
    kind: str
    frame: bytes
    sequenced_at: int


class SequencerStore:
    """SQL for the event log."""

    async def next_seq(self, conn: AsyncConnection) -> int:
        """The next sequence number; holds a lock on it until the transaction ends."""
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SEQ_LOCK})
        current = await conn.scalar(select(func.max(repo_seq.c.seq)))
        return int(current or 0) + 1

    async def append(self, conn: AsyncConnection, event: SequencedEvent) -> None:
        """Persist an event numbered by :meth:`next_seq` in the same transaction."""
        if conn.dialect.name == "sqlite":
            row = (event.seq, event.did, event.kind, event.frame, event.sequenced_at)
            await run_on_sqlite(
                conn,
                lambda sq: sq.execute(
                    "INSERT INTO repo_seq (seq, did, kind, frame, sequenced_at) VALUES (?, ?, ?, ?, ?)",
                    row,
                ),
            )
            return
        await conn.execute(
            repo_seq.insert().values(
                seq=event.seq,
                did=event.did,
                kind=event.kind,
                frame=event.frame,
                sequenced_at=event.sequenced_at,
            )
        )

    async def append_many(
        self,
        conn: AsyncConnection,
        events: Sequence[SequencedEvent],
        later: DeferredStatements | None = None,
    ) -> None:
        """Persist already-numbered events in one round trip (on SQLite with ``later``: with
        the transaction's other deferred statements)."""
        if not events:
            return
        rows = [(e.seq, e.did, e.kind, e.frame, e.sequenced_at) for e in events]
        if conn.dialect.name == "sqlite":

            def insert(sq: sqlite3.Connection) -> None:
                sq.executemany(
                    "INSERT INTO repo_seq (seq, did, kind, frame, sequenced_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    rows,
                )

            if later is not None:
                later.add(insert)
            else:
                await run_on_sqlite(conn, insert)
            return
        await conn.execute(
            repo_seq.insert(),
            [
                {"seq": r[0], "did": r[1], "kind": r[2], "frame": r[3], "sequenced_at": r[4]}
                for r in rows
            ],
        )

    async def read_after(
        self, conn: AsyncConnection, cursor: int, limit: int
    ) -> list[SequencedEvent]:
        """Events with ``seq > cursor`` in order."""
        rows = await conn.execute(
            select(repo_seq).where(repo_seq.c.seq > cursor).order_by(repo_seq.c.seq).limit(limit)
        )
        return [SequencedEvent(r.seq, r.did, r.kind, r.frame, r.sequenced_at) for r in rows]

    async def bounds(self, conn: AsyncConnection) -> tuple[int, int]:
        """(oldest, latest) retained sequence numbers; (0, 0) when empty."""
        row = (await conn.execute(select(func.min(repo_seq.c.seq), func.max(repo_seq.c.seq)))).one()
        return int(row[0] or 0), int(row[1] or 0)

    async def first_seq_since(self, conn: AsyncConnection, since_us: int) -> int | None:
        """The first sequence number sequenced at or after ``since_us``."""
        value = await conn.scalar(
            select(func.min(repo_seq.c.seq)).where(repo_seq.c.sequenced_at >= since_us)
        )
        return None if value is None else int(value)

    async def delete_did(self, conn: AsyncConnection, did: str) -> int:
        """Drop every event of ``did`` (a deleted account); returns the count."""
        result = await conn.execute(delete(repo_seq).where(repo_seq.c.did == did))
        return int(result.rowcount or 0)

    async def trim_before(self, conn: AsyncConnection, before_us: int, keep_latest: int) -> int:
        """Drop events older than ``before_us`` (always keeping the newest); returns the count."""
        result = await conn.execute(
            delete(repo_seq).where(
                repo_seq.c.sequenced_at < before_us, repo_seq.c.seq < keep_latest
            )
        )
        return int(result.rowcount or 0)
