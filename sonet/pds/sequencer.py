"""Sequences PDS events (commits, identity, account) into the persisted firehose log.

https://atproto.com/specs/sync#firehose: every event gets the next sequence number in the same
transaction as the change it describes. Transactions that sequence events run one at a time in
this process, so the in-memory window of recent frames is appended in commit order and live
subscribers read it without touching the database; older cursors are served from the database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.database import Database
from sonet.storage.raw_sqlite import DeferredStatements
from sonet.storage.sequencer_store import SequencedEvent, SequencerStore

__all__ = ["SequenceTransaction", "Sequencer", "Work"]

DB_PAGE = 500
MAX_BATCH = 64


@dataclass
class SequenceTransaction:
    """A write transaction that may sequence events."""

    conn: AsyncConnection
    _sequencer: Sequencer
    later: DeferredStatements | None = None
    """On SQLite: statements that run in one hop just before the transaction commits."""
    events: list[SequencedEvent] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)

    async def sequence(
        self, did: str, kind: str, frame_for: Callable[[int], bytes]
    ) -> SequencedEvent:
        """Number an event (``frame_for(seq)`` builds its frame); it is stored when the
        transaction ends, together with the other events of the transaction."""
        if self.events:
            seq = self.events[-1].seq + 1
        else:
            seq = await self._sequencer._next_seq(self.conn)
        event = SequencedEvent(seq, did, kind, frame_for(seq), time.time_ns() // 1000)
        self.events.append(event)
        return event

    async def purge(self, did: str) -> None:
        """Drop the events of ``did`` already in the log (account deletion, as the reference
        PDS does), so replaying from a cursor no longer serves them; the in-memory window
        forgets them once the transaction commits. This transaction's own events are kept.

        Sequence the transaction's events first: numbering after the purge could reuse the
        number of a purged latest event on PostgreSQL, where the next number is the stored
        maximum plus one."""
        await self._sequencer.store.delete_did(self.conn, did)
        self.purged.append(did)


Work = Callable[[SequenceTransaction], Awaitable[None]]
"""A unit of work run inside a (possibly shared) write transaction."""


class Sequencer:
    """The PDS event log: persisted in the database, recent frames kept in memory."""

    def __init__(self, db: Database, window: int = 20_000) -> None:
        self.db = db
        self.store = SequencerStore()
        self.window = window
        self._recent: dict[int, SequencedEvent] = {}
        self._latest = 0
        self._lock = asyncio.Lock()
        self._wakeup = asyncio.Event()
        self._pending: list[tuple[Work, asyncio.Future[None]]] = []
        self._batcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Learn the latest sequence number from the database."""
        async with self.db.read() as conn:
            _, self._latest = await self.store.bounds(conn)

    @property
    def latest(self) -> int:
        """The newest sequence number committed."""
        return self._latest

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SequenceTransaction]:
        """A serialised write transaction; its events are published once it commits."""
        async with self._lock:
            async with self.db.write() as conn:
                later = DeferredStatements() if self.db.is_sqlite else None
                tx = SequenceTransaction(conn, self, later)
                yield tx
                if tx.events:
                    await self.store.append_many(conn, tx.events, later)
                if later is not None:
                    await later.flush(conn)
            if tx.purged:
                purged = set(tx.purged)
                for seq in [seq for seq, e in self._recent.items() if e.did in purged]:
                    del self._recent[seq]
            for event in tx.events:
                self._publish(event)

    async def _next_seq(self, conn: AsyncConnection) -> int:
        """The first sequence number of a transaction. On SQLite this process is the only
        writer and transactions run one at a time, so the committed counter is exact; on
        PostgreSQL the database assigns it under an advisory lock."""
        if conn.dialect.name == "sqlite":
            return self._latest + 1
        return await self.store.next_seq(conn)

    async def commit(self, work: Work) -> None:
        """Run ``work`` in a write transaction shared with other pending work (group commit).

        Concurrent callers are batched into one transaction, so the cost of committing is
        shared. If a batch fails, its works are retried one per transaction, so a failing work
        only fails its own caller.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._drain())
        await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[:MAX_BATCH]
            del self._pending[:MAX_BATCH]
            try:
                async with self.transaction() as tx:
                    for work, _ in batch:
                        await work(tx)
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], exc)
                    continue
                for work, future in batch:
                    try:
                        async with self.transaction() as tx:
                            await work(tx)
                    except Exception as single:
                        _settle(future, single)
                    else:
                        _settle(future, None)
                continue
            for _, future in batch:
                _settle(future, None)

    def _publish(self, event: SequencedEvent) -> None:
        self._recent[event.seq] = event
        self._latest = event.seq
        while len(self._recent) > self.window:
            del self._recent[next(iter(self._recent))]
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    async def bounds(self) -> tuple[int, int]:
        """(oldest, latest) sequence numbers still retained."""
        async with self.db.read() as conn:
            return await self.store.bounds(conn)

    async def events_after(self, cursor: int) -> AsyncIterator[SequencedEvent]:
        """Every event with ``seq > cursor``, then live events as they commit (never ends)."""
        while True:
            if cursor >= self._latest:
                await self._wakeup.wait()
                continue
            nxt = self._recent.get(cursor + 1)
            if nxt is not None:
                cursor = nxt.seq
                yield nxt
                continue
            async with self.db.read() as conn:
                page = await self.store.read_after(conn, cursor, DB_PAGE)
            if not page:
                # only reached when events were trimmed: skip to what is retained
                cursor = self._latest
                continue
            for event in page:
                cursor = event.seq
                yield event


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)
