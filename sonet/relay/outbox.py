"""Re-sequencing accepted events: numbering, group-committed persistence, then publication.

https://atproto.com/specs/sync#firehose: the relay gives every event it passes on its own
sequence number. Numbers are assigned in memory as events are accepted (one ingesting process,
so they are gap-free); a single flusher commits whatever has accumulated as one batch (the event
log, with the account and host state that goes with it) and only then hands the batch to the
live consumers and to other relay processes, so nothing is ever served that is not persisted.
Batches are at least ``linger`` seconds apart, so that at low rates each write to the log and to
every consumer's socket carries several events rather than one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, Protocol

from sonet.storage.sequencer_store import SequencedEvent
from sonet.sync.broadcaster import Broadcaster
from sonet.xrpc.frames import encode_message

__all__ = ["BatchCommitter", "Outbox", "Publisher"]

log = logging.getLogger(__name__)

MAX_PENDING: Final = 20_000
RETRY_SECONDS: Final = 1.0

BatchCommitter = Callable[[list[SequencedEvent]], Awaitable[None]]
"""Persists one batch (and whatever state goes with it); must snapshot that state before its
first ``await``."""


class Publisher(Protocol):
    """Something else that wants committed batches (Redis fan-out)."""

    async def publish(self, events: Sequence[SequencedEvent]) -> None: ...


class Outbox:
    """Numbers, persists and publishes the relay's outgoing events."""

    def __init__(
        self,
        commit: BatchCommitter,
        broadcaster: Broadcaster,
        *,
        publishers: Sequence[Publisher] = (),
        max_pending: int = MAX_PENDING,
        linger: float = 0.0,
    ) -> None:
        self._commit = commit
        self.broadcaster = broadcaster
        self.publishers = list(publishers)
        self.max_pending = max_pending
        self.linger = linger
        self._last_flush = 0.0
        self._next = 1
        self._pending: list[SequencedEvent] = []
        self._flusher: asyncio.Task[None] | None = None
        self._room = asyncio.Event()
        self._room.set()
        self._committed = asyncio.Event()
        self.committed_seq = 0
        self.batches = 0

    def start(self, latest: int) -> None:
        """Continue numbering after ``latest`` (the event log's newest event)."""
        self._next = latest + 1
        self.committed_seq = latest
        self.broadcaster.start_at(latest)

    @property
    def pending(self) -> int:
        """Events numbered but not yet committed."""
        return len(self._pending)

    def emit(self, did: str, kind: str, body: dict[str, Any]) -> SequencedEvent:
        """Number ``body`` (its ``seq`` is set here) and queue it for the next batch."""
        seq = self._next
        self._next += 1
        body["seq"] = seq
        event = SequencedEvent(seq, did, kind, encode_message(body, kind), time.time_ns() // 1000)
        self._pending.append(event)
        if len(self._pending) >= self.max_pending:
            self._room.clear()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())
        return event

    async def wait_room(self) -> None:
        """Wait while too many events are waiting to be committed (back-pressure)."""
        await self._room.wait()

    async def drain(self) -> None:
        """Wait until everything emitted so far is committed and published."""
        target = self._next - 1
        while self.committed_seq < target:
            await self._committed.wait()

    async def _flush_loop(self) -> None:
        while self._pending:
            wait = self._last_flush + self.linger - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_flush = time.monotonic()
            batch, self._pending = self._pending, []
            self._room.set()
            while True:
                try:
                    await self._commit(batch)
                    break
                except Exception:
                    log.exception("committing %d events failed; retrying", len(batch))
                    await asyncio.sleep(RETRY_SECONDS)
            self.batches += 1
            self.broadcaster.publish(batch)
            for publisher in self.publishers:
                try:
                    await publisher.publish(batch)
                except Exception:
                    log.exception("publishing a batch failed")
            self.committed_seq = batch[-1].seq
            self._committed.set()
            self._committed = asyncio.Event()

    async def close(self) -> None:
        """Commit what is pending."""
        if self._flusher is not None and not self._flusher.done():
            await self._flusher
