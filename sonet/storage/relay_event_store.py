"""The relay's re-sequenced event log in the database (the ``repo_seq`` table of
:mod:`sonet.storage.sequencer_store`), with batched appends.

The relay numbers events itself (one ingesting process), so it only needs to append whole batches
quickly; reads, bounds and trimming are those of the PDS event log.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.raw_sqlite import run_on_sqlite
from sonet.storage.sequencer_store import MIGRATIONS, SequencedEvent, SequencerStore, repo_seq

__all__ = ["MIGRATIONS", "RelayEventStore"]

_INSERT = "INSERT INTO repo_seq (seq, did, kind, frame, sequenced_at) VALUES (?, ?, ?, ?, ?)"


class RelayEventStore(SequencerStore):
    """The event log SQL plus one-statement batch appends."""

    async def append_many(self, conn: AsyncConnection, events: Sequence[SequencedEvent]) -> None:
        """Persist already-numbered events in one round trip."""
        if not events:
            return
        if conn.dialect.name == "sqlite":
            rows = [(e.seq, e.did, e.kind, e.frame, e.sequenced_at) for e in events]
            await run_on_sqlite(conn, lambda sq: sq.executemany(_INSERT, rows))
            return
        await conn.execute(
            repo_seq.insert(),
            [
                {
                    "seq": e.seq,
                    "did": e.did,
                    "kind": e.kind,
                    "frame": e.frame,
                    "sequenced_at": e.sequenced_at,
                }
                for e in events
            ],
        )
