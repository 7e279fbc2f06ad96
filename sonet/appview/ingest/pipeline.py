"""Decoding and indexing overlapped: frames are decoded as they arrive, indexed in batches.

A bounded queue sits between the two: while one batch is written (on SQLite, in the database
thread, which releases the interpreter lock during I/O) the next frames are decoded. A batch is
whatever is queued when the indexer is free, up to ``max_batch`` events, so latency stays low
when the stream is slow and batches grow when it is fast. The cursor saved with a batch is the
``seq`` of its last message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from sonet.appview.ingest.events import IndexEvent
from sonet.appview.ingest.frame_events import Decoded, FrameDecoder
from sonet.appview.ingest.indexer import Indexer

__all__ = ["IngestPipeline"]

log = logging.getLogger(__name__)

MAX_BATCH: Final = 2000
QUEUE_SIZE: Final = 20_000


class IngestPipeline:
    """Feeds frames of ``source`` through ``decoder`` into ``indexer``; ``resync(did)`` is
    called for repos that must be fetched again (``#sync``, ``tooBig``)."""

    def __init__(
        self,
        indexer: Indexer,
        decoder: FrameDecoder,
        source: str,
        *,
        resync: Callable[[str], Awaitable[None]] | None = None,
        max_batch: int = MAX_BATCH,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.indexer = indexer
        self.decoder = decoder
        self.source = source
        self.resync = resync
        self.max_batch = max_batch
        self._queue: asyncio.Queue[Decoded] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None
        self.last_seq: int | None = None
        """The last sequence number accepted (frames at or below it are dropped as repeats)."""
        self.indexed_seq: int | None = None
        """The last sequence number indexed and saved as the cursor."""

    def start(self) -> None:
        """Start the indexing task."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._index_loop(), name=f"index {self.source}")

    async def feed(self, frame: bytes) -> Decoded:
        """Decode one frame and queue it (waits while the queue is full)."""
        decoded = await self.decoder.decode(frame)
        seq = decoded.seq
        if seq is not None:
            if self.last_seq is not None and seq <= self.last_seq:
                return decoded
            self.last_seq = seq
        for problem in decoded.problems:
            log.warning("%s: %s", self.source, problem)
        if decoded.info is not None:
            log.info("%s: #info %s", self.source, decoded.info)
        if decoded.resync is not None and self.resync is not None:
            await self.resync(decoded.resync)
        if decoded.event is not None or seq is not None:
            await self._queue.put(decoded)
        return decoded

    async def drain(self) -> None:
        """Wait until everything fed so far is indexed."""
        await self._queue.join()

    async def stop(self) -> None:
        """Index what is queued, then stop the indexing task."""
        if self._task is None:
            return
        await self.drain()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _index_loop(self) -> None:
        queue = self._queue
        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            events: list[IndexEvent] = [d.event for d in batch if d.event is not None]
            seqs = [d.seq for d in batch if d.seq is not None]
            cursor = (self.source, seqs[-1]) if seqs else None
            try:
                await self.indexer.apply(events, cursor)
                if seqs:
                    self.indexed_seq = seqs[-1]
            except Exception:
                log.exception("%s: indexing a batch failed", self.source)
            finally:
                for _ in batch:
                    queue.task_done()
