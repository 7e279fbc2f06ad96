"""The PDS firehose: ``com.atproto.sync.subscribeRepos`` over the sequenced event log.

https://atproto.com/specs/event-stream#sequence-numbers and https://atproto.com/specs/sync#firehose:
without a cursor a consumer gets live events from now on; with a cursor inside the retained window
it gets every later event, then live ones; a cursor older than the window first gets an ``#info``
``OutdatedCursor`` and then everything retained; a cursor beyond the latest event is an error
``FutureCursor``. Frames are sent exactly as they were stored when sequenced. The events of a
deleted account are purged from the log (as the reference PDS does); the gaps they leave are not
outdated cursors, only events older than the window (trimmed or due to be) are.

A consumer may fall behind while it replays, but once it is near the head (within half of
``max_lag``) it must keep up: more than ``max_lag`` events behind it is dropped with
``ConsumerTooSlow``, and a connection whose
socket accepts nothing for ``stall_seconds`` is cut. Nothing is queued per consumer (it reads the
shared window of recent frames, or the database), so a slow consumer never grows memory. Events
older than ``retention_seconds`` are trimmed in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Final, cast

from sonet.pds.sequencer import Sequencer
from sonet.sync.events import info_body
from sonet.xrpc.context import HandlerContext
from sonet.xrpc.errors import InvalidRequestError
from sonet.xrpc.subscription import StreamItem

__all__ = ["Firehose", "FirehoseSettings"]

log = logging.getLogger(__name__)

INFO_TYPE: Final = "com.atproto.sync.subscribeRepos#info"


@dataclass(frozen=True)
class FirehoseSettings:
    """Retention and consumer bounds of the firehose."""

    retention_seconds: float = 72 * 3600
    """Events older than this are trimmed (and older cursors get ``OutdatedCursor``)."""
    max_lag: int = 10_000
    """A caught-up consumer this many events behind the head is dropped (``ConsumerTooSlow``)."""
    stall_seconds: float = 60.0
    """A consumer whose socket accepts no frame for this long is disconnected."""
    trim_interval_seconds: float = 600.0
    """How often the retention trim runs."""


def _now_us() -> int:
    return time.time_ns() // 1000


class _Consumer:
    """Progress of one subscriber, watched for stalls."""

    __slots__ = ("caught_up", "sending_since", "sent")

    caught_up: bool
    sending_since: float | None
    sent: int

    def __init__(self) -> None:
        self.sent = 0
        self.caught_up = False
        self.sending_since: float | None = None


class Firehose:
    """Serves subscribeRepos from ``sequencer`` and trims its log."""

    def __init__(self, sequencer: Sequencer, settings: FirehoseSettings | None = None) -> None:
        self.sequencer = sequencer
        self.settings = settings or FirehoseSettings()
        self._trimmer: asyncio.Task[None] | None = None
        self._trimmed_below = 0
        """Every event numbered below this was older than the window at the last trim."""

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background retention trim."""
        if self._trimmer is None:
            self._trimmer = asyncio.create_task(self._trim_forever())

    async def close(self) -> None:
        """Stop the background task."""
        if self._trimmer is not None:
            self._trimmer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._trimmer
            self._trimmer = None

    async def _trim_forever(self) -> None:
        while True:
            try:
                await self.trim()
            except Exception:
                log.exception("firehose retention trim failed")
            await asyncio.sleep(self.settings.trim_interval_seconds)

    async def trim(self, now_us: int | None = None) -> int:
        """Delete events older than the retention window (the newest is always kept)."""
        cutoff = (_now_us() if now_us is None else now_us) - int(
            self.settings.retention_seconds * 1_000_000
        )
        latest = self.sequencer.latest
        async with self.sequencer.db.write() as conn:
            kept_from = await self.sequencer.store.first_seq_since(conn, cutoff)
            removed = await self.sequencer.store.trim_before(conn, cutoff, latest)
        horizon = latest if kept_from is None else min(kept_from, latest)
        self._trimmed_below = max(self._trimmed_below, horizon)
        if removed:
            log.info("trimmed %d firehose events", removed)
        return removed

    # -- subscribing ---------------------------------------------------------------------------

    async def _start_after(self, cursor: int | None) -> tuple[int, bool]:
        """The sequence number to stream after, and whether the cursor was outdated."""
        latest = self.sequencer.latest
        if cursor is None:
            return latest, False
        if cursor > latest:
            raise InvalidRequestError("Cursor in the future.", "FutureCursor")
        store = self.sequencer.store
        cutoff = _now_us() - int(self.settings.retention_seconds * 1_000_000)
        async with self.sequencer.db.read() as conn:
            following = await store.read_after(conn, cursor, 1)
            if not following:
                return cursor, False
            trimmed = cursor + 1 < self._trimmed_below
            if not trimmed and following[0].sequenced_at >= cutoff:
                return cursor, False
            start = await store.first_seq_since(conn, cutoff)
        return (latest if start is None else start - 1), True

    async def subscribe(self, hctx: HandlerContext[Any]) -> AsyncGenerator[StreamItem, None]:
        """The subscribeRepos handler: stored frames (bytes) and an occasional ``#info``."""
        start, outdated = await self._start_after(hctx.params.get("cursor"))
        if outdated:
            yield {
                "$type": INFO_TYPE,
                **info_body(
                    "OutdatedCursor", "Requested cursor exceeded limit. Possibly missing events"
                ),
            }
        consumer = _Consumer()
        watchdog = asyncio.create_task(self._watch(consumer, hctx))
        events = cast(AsyncGenerator[Any, None], self.sequencer.events_after(start))
        try:
            async for event in events:
                lag = self.sequencer.latest - event.seq
                if lag <= self.settings.max_lag // 2:
                    consumer.caught_up = True
                elif consumer.caught_up and lag > self.settings.max_lag:
                    raise InvalidRequestError("Stream consumer too slow", "ConsumerTooSlow")
                consumer.sending_since = time.monotonic()
                yield event.frame
                consumer.sending_since = None
                consumer.sent = event.seq
        finally:
            watchdog.cancel()
            await events.aclose()

    async def _watch(self, consumer: _Consumer, hctx: HandlerContext[Any]) -> None:
        """Cut the connection of a consumer whose socket stopped accepting frames."""
        stall = self.settings.stall_seconds
        while True:
            await asyncio.sleep(min(1.0, stall / 4))
            since = consumer.sending_since
            if since is not None and time.monotonic() - since > stall:
                log.info("dropping stalled firehose consumer at seq %d", consumer.sent)
                transport = hctx.request.transport
                if transport is not None:
                    transport.abort()
                return
