"""Running signature and proof checks on other cores.

Verification (:mod:`sonet.sync.verifier`) is CPU-bound: a K-256 signature and an MST inversion
per commit. Jobs submitted in the same event-loop turn are sent together, as one pickled batch of
plain tuples (named tuples pickle ten times slower), to a worker process over a socket the event
loop reads directly (no executor threads, so no GIL hand-offs between threads on the hot path);
each worker has up to two batches in flight and answers them in order. Workers run at a lower
priority than the relay's own process. A worker that dies is replaced and its batches fail with
``internal-error``. With ``workers=0`` batches run inline (tests, tiny relays).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import socket
import struct
from collections import deque
from multiprocessing.process import BaseProcess
from typing import Final

from sonet.sync.verifier import DropReason, VerifyJob, VerifyOutcome, verify_batch

__all__ = ["VerifyPool"]

log = logging.getLogger(__name__)

MAX_BATCH: Final = 256
RESPAWN_MAX_DELAY: Final = 30.0
MAX_BATCH_BYTES: Final = 4 * 1024 * 1024
INFLIGHT_PER_WORKER: Final = 2
WORKER_NICENESS: Final = 5
"""Workers yield the CPU to the relay's own process (reading hosts, sequencing, serving
consumers), whose delays every event waits for; verification takes what is left."""
_LENGTH: Final = struct.Struct("<I")
_PRELOAD: Final = ["sonet.sync.verifier"]

_Batch = list[tuple[VerifyJob, "asyncio.Future[VerifyOutcome]"]]


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def _worker_main(sock: socket.socket) -> None:
    """A verification worker: read a batch, answer its outcomes, until the socket closes."""
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    with sock:
        while True:
            header = _recv_exactly(sock, _LENGTH.size)
            if header is None:
                return
            data = _recv_exactly(sock, _LENGTH.unpack(header)[0])
            if data is None:
                return
            jobs = [VerifyJob._make(fields) for fields in pickle.loads(data)]
            answer = pickle.dumps([tuple(outcome) for outcome in verify_batch(jobs)], protocol=5)
            sock.sendall(_LENGTH.pack(len(answer)) + answer)


class _Worker:
    """One worker process and the batches it has been sent, in order."""

    def __init__(
        self, process: BaseProcess, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.process = process
        self.reader = reader
        self.writer = writer
        self.sent: deque[_Batch] = deque()
        self.task: asyncio.Task[None] | None = None


class VerifyPool:
    """Batches :class:`VerifyJob` to ``workers`` processes (inline when 0)."""

    def __init__(self, workers: int, *, max_batch: int = MAX_BATCH) -> None:
        self.workers = max(0, workers)
        self.max_batch = max_batch
        self._workers: list[_Worker] = []
        self._pending: _Batch = []
        self._scheduled = False
        self._closing = False
        self._deaths = 0
        self.batches = 0
        self.jobs = 0

    async def start(self) -> None:
        """Start the worker processes."""
        for _ in range(self.workers - len(self._workers)):
            self._workers.append(await self._spawn())

    async def _spawn(self) -> _Worker:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        ours, theirs = socket.socketpair()
        process = context.Process(target=_worker_main, args=(theirs,), daemon=True)
        process.start()
        theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        worker = _Worker(process, reader, writer)
        worker.task = asyncio.create_task(self._read(worker))
        return worker

    def submit(self, job: VerifyJob) -> asyncio.Future[VerifyOutcome]:
        """Queue a job; its outcome arrives on the returned future."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[VerifyOutcome] = loop.create_future()
        self._pending.append((job, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._dispatch)
        return future

    def _dispatch(self) -> None:
        self._scheduled = False
        if self.workers == 0:
            self._run_inline()
            return
        while self._pending and self._workers:  # none while a dead worker is being replaced
            worker = min(self._workers, key=lambda w: len(w.sent))
            if len(worker.sent) >= INFLIGHT_PER_WORKER:
                return
            batch = self._take_batch()
            data = pickle.dumps([tuple(job) for job, _ in batch], protocol=5)
            worker.sent.append(batch)
            worker.writer.write(_LENGTH.pack(len(data)) + data)

    def _take_batch(self) -> _Batch:
        """The next jobs, up to :attr:`max_batch` of them or :data:`MAX_BATCH_BYTES` of frames."""
        count = size = 0
        for job, _ in self._pending:
            if count >= self.max_batch or (count and size + len(job.frame) > MAX_BATCH_BYTES):
                break
            count += 1
            size += len(job.frame)
        batch = self._pending[:count]
        del self._pending[:count]
        return batch

    def _run_inline(self) -> None:
        while self._pending:
            batch = self._take_batch()
            self._settle(batch, verify_batch([job for job, _ in batch]))

    def _settle(self, batch: _Batch, outcomes: list[VerifyOutcome]) -> None:
        self.batches += 1
        self.jobs += len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    async def _read(self, worker: _Worker) -> None:
        try:
            while True:
                header = await worker.reader.readexactly(_LENGTH.size)
                data = await worker.reader.readexactly(_LENGTH.unpack(header)[0])
                outcomes = [VerifyOutcome._make(fields) for fields in pickle.loads(data)]
                self._settle(worker.sent.popleft(), outcomes)
                self._deaths = 0
                if self._pending and not self._scheduled:
                    self._scheduled = True
                    asyncio.get_running_loop().call_soon(self._dispatch)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            if not self._closing:
                log.error("a verification worker died (%r); replacing it", exc)
                await self._replace(worker)

    async def _replace(self, worker: _Worker) -> None:
        failed = VerifyOutcome(DropReason.INTERNAL.value, "verification worker died")
        while worker.sent:
            batch = worker.sent.popleft()
            self._settle(batch, [failed] * len(batch))
        self._workers.remove(worker)
        worker.writer.close()
        worker.process.kill()
        # a worker that cannot even start must not be respawned in a tight loop
        self._deaths += 1
        await asyncio.sleep(min(RESPAWN_MAX_DELAY, 0.1 * 2.0 ** (self._deaths - 1)))
        if self._closing:
            return
        self._workers.append(await self._spawn())
        self._dispatch()

    async def close(self) -> None:
        """Stop the workers; pending jobs are dropped."""
        self._closing = True
        for _, future in self._pending:
            future.cancel()
        self._pending.clear()
        for worker in self._workers:
            worker.writer.close()
            if worker.task is not None:
                worker.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker.task
        for worker in self._workers:
            await asyncio.to_thread(worker.process.join, 5)
            if worker.process.is_alive():
                worker.process.kill()
        self._workers.clear()
