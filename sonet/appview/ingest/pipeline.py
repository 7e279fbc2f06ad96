"""From firehose frames to indexed batches.

Frames are decoded either in this process (a PDS read directly: each commit is verified here) or,
with a :class:`~sonet.appview.ingest.decode_pool.DecodePool`, in worker processes: frames
received in the same event-loop turn (up to ``chunk`` of them) go to a worker together, and
results are taken in submission order. Decoded events wait in a bounded queue; the indexer takes
what arrives within ``linger`` seconds of the first event, up to ``max_batch`` events, so
latency stays low when the stream is slow and batches grow when it is fast. The cursor saved with a batch is the ``seq`` of
its last message; messages at or below the last seq accepted are dropped as repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from sonet.appview.ingest.decode_pool import DecodePool
from sonet.appview.ingest.events import IndexEvent
from sonet.appview.ingest.frame_events import Decoded, FrameDecoder
from sonet.appview.ingest.indexer import Indexer

__all__ = ["IngestPipeline"]

log = logging.getLogger(__name__)

MAX_BATCH: Final = 5000
"""Events per transaction at most. A commit writes every page its batch changed, and an event
changes pages all over the index (timelines, notifications, URI keys), so while the indexer
is behind, larger batches share more of those writes: at 10,000 users, batches of 5,000 index
a fifth more events per CPU-second than batches of 2,000 (and take a second or two)."""
QUEUE_SIZE: Final = 20_000
CHUNK: Final = 256
CHUNKS_IN_FLIGHT: Final = 8
LINGER: Final = 0.05
"""Seconds a batch waits for more events (each commit has a fixed cost, so fuller batches
index faster)."""


class IngestPipeline:
    """Feeds frames of ``source`` through ``decoder`` (or ``pool``) into ``indexer``;
    ``resync(did)`` is called for repos that must be fetched again (``#sync``, ``tooBig``)."""

    def __init__(
        self,
        indexer: Indexer,
        decoder: FrameDecoder,
        source: str,
        *,
        pool: DecodePool | None = None,
        resync: Callable[[str], Awaitable[None]] | None = None,
        max_batch: int = MAX_BATCH,
        queue_size: int = QUEUE_SIZE,
        chunk: int = CHUNK,
        linger: float = LINGER,
    ) -> None:
        self.indexer = indexer
        self.decoder = decoder
        self.pool = pool
        self.source = source
        self.resync = resync
        self.max_batch = max_batch
        self.chunk = chunk
        self.linger = linger
        self._queue: asyncio.Queue[Decoded] = asyncio.Queue(queue_size)
        self._chunks: asyncio.Queue[asyncio.Task[list[Decoded]]] = asyncio.Queue(CHUNKS_IN_FLIGHT)
        self._pending: list[bytes] = []
        self._flush_scheduled = False
        self._tasks: list[asyncio.Task[None]] = []
        self.last_seq: int | None = None
        """The last sequence number accepted."""
        self.indexed_seq: int | None = None
        """The last sequence number indexed and saved as the cursor."""

    def start(self) -> None:
        """Start the indexing (and, with a pool, result-collecting) tasks."""
        if self._tasks:
            return
        self._tasks.append(asyncio.create_task(self._index_loop(), name=f"index {self.source}"))
        if self.pool is not None:
            self._tasks.append(asyncio.create_task(self._collect_loop()))

    async def feed(self, frame: bytes) -> Decoded | None:
        """Take one frame: decoded now (returned) or, with a pool, sent off in a chunk (None).
        Waits while the queues are full."""
        if self.pool is None:
            decoded = await self.decoder.decode(frame)
            await self._accept(decoded)
            return decoded
        self._pending.append(frame)
        if len(self._pending) >= self.chunk:
            await self._submit()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_soon)
        return None

    def _flush_soon(self) -> None:
        self._flush_scheduled = False
        if self._pending:
            self._tasks.append(asyncio.create_task(self._submit()))
            self._tasks = [t for t in self._tasks if not t.done()]

    async def _submit(self) -> None:
        if not self._pending or self.pool is None:
            return
        frames, self._pending = self._pending, []
        await self._chunks.put(asyncio.create_task(self.pool.decode_many(frames)))

    async def _collect_loop(self) -> None:
        while True:
            task = await self._chunks.get()
            try:
                for decoded in await task:
                    await self._accept(decoded)
            except Exception:
                log.exception("%s: decoding a chunk of frames failed", self.source)
            finally:
                self._chunks.task_done()

    async def _accept(self, decoded: Decoded) -> None:
        seq = decoded.seq
        if seq is not None:
            if self.last_seq is not None and seq <= self.last_seq:
                return
            self.last_seq = seq
        for problem in decoded.problems:
            log.warning("%s: %s", self.source, problem)
        if decoded.info is not None:
            log.info("%s: #info %s", self.source, decoded.info)
        if decoded.error is not None:
            log.warning(
                "%s: error frame %s: %s", self.source, decoded.error.error, decoded.error.message
            )
        if decoded.resync is not None and self.resync is not None:
            await self.resync(decoded.resync)
        if decoded.event is not None or seq is not None:
            await self._queue.put(decoded)

    async def drain(self) -> None:
        """Wait until everything fed so far is indexed."""
        await self._submit()
        await self._chunks.join()
        await self._queue.join()

    async def stop(self) -> None:
        """Index what was fed, then stop the tasks."""
        if not self._tasks:
            return
        await self.drain()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _index_loop(self) -> None:
        queue = self._queue
        while True:
            batch = [await queue.get()]
            deadline = asyncio.get_running_loop().time() + self.linger
            while len(batch) < self.max_batch:
                if queue.empty():
                    if asyncio.get_running_loop().time() >= deadline:
                        break
                    await asyncio.sleep(self.linger / 5)
                    continue
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
