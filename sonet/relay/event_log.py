"""Where the relay keeps its re-sequenced events: on disk (embedded default) or in the database.

https://atproto.com/specs/sync#firehose: a relay assigns its own sequence numbers and keeps the
frames for a retention window so consumers can resume from a cursor. Both stores take batches of
already-numbered :class:`~sonet.storage.sequencer_store.SequencedEvent` and read them back in
order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.relay.config import EventLogKind, RelayConfig
from sonet.relay.disk_log import DiskEventLog
from sonet.storage.database import Database
from sonet.storage.migrations import migrate
from sonet.storage.relay_event_store import MIGRATIONS, RelayEventStore
from sonet.storage.sequencer_store import SequencedEvent

__all__ = ["DbEventLog", "EventLog", "open_event_log"]

EVENTS_COMPONENT = "relay_events"


class EventLog(Protocol):
    """A persisted, append-only sequence of events."""

    @property
    def latest_seq(self) -> int:
        """The newest sequence number appended (0 when empty)."""
        ...

    async def open(self) -> None:
        """Prepare storage and learn the latest sequence number."""

    async def append(self, events: Sequence[SequencedEvent]) -> None:
        """Persist numbered events, in order."""

    async def read_after(self, cursor: int, limit: int) -> list[SequencedEvent]:
        """Up to ``limit`` events with ``seq > cursor``, in order."""
        ...

    async def oldest_seq(self) -> int:
        """The oldest sequence number retained (0 when empty)."""
        ...

    async def trim(self, before_us: int) -> int:
        """Drop events sequenced before ``before_us``; returns a count."""
        ...

    async def close(self) -> None:
        """Release resources."""


class DbEventLog:
    """The event log in the ``repo_seq`` table of the relay's database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.store = RelayEventStore()
        self._latest = 0

    @property
    def latest_seq(self) -> int:
        return self._latest

    async def open(self) -> None:
        await migrate(self.db, EVENTS_COMPONENT, MIGRATIONS)
        async with self.db.read() as conn:
            _, self._latest = await self.store.bounds(conn)

    async def refresh_latest(self) -> int:
        """Re-read the newest sequence number (serving processes that do not append)."""
        async with self.db.read() as conn:
            _, latest = await self.store.bounds(conn)
        self._latest = max(self._latest, latest)
        return self._latest

    async def append(self, events: Sequence[SequencedEvent]) -> None:
        if not events:
            return
        async with self.db.write() as conn:
            await self.append_in(conn, events)

    async def append_in(self, conn: AsyncConnection, events: Sequence[SequencedEvent]) -> None:
        """Append inside the caller's transaction (with the state that goes with the events)."""
        if events:
            await self.store.append_many(conn, events)
            self._latest = events[-1].seq

    async def read_after(self, cursor: int, limit: int) -> list[SequencedEvent]:
        async with self.db.read() as conn:
            return await self.store.read_after(conn, cursor, limit)

    async def oldest_seq(self) -> int:
        async with self.db.read() as conn:
            oldest, _ = await self.store.bounds(conn)
        return oldest

    async def trim(self, before_us: int) -> int:
        async with self.db.write() as conn:
            return await self.store.trim_before(conn, before_us, self._latest)

    async def close(self) -> None:
        return None


def open_event_log(config: RelayConfig, db: Database) -> EventLog:
    """The event log the configuration asks for (not yet opened)."""
    if config.event_log_kind is EventLogKind.DISK:
        return DiskEventLog(config.event_log_dir, segment_events=config.event_log_segment_events)
    return DbEventLog(db)
