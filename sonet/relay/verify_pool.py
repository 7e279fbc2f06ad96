"""Running signature and proof checks on other cores.

Verification (:mod:`sonet.relay.verifier`) is CPU-bound: a K-256 signature and an MST inversion
per commit. Jobs submitted in the same event-loop turn are sent together to a pool of worker
processes (one pickling round trip per batch, several batches in flight), so the event loop only
decodes, routes and re-sequences. With ``workers=0`` batches run inline (tests, tiny relays).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Final

from sonet.relay.verifier import DropReason, VerifyJob, VerifyOutcome, verify_batch

__all__ = ["VerifyPool"]

log = logging.getLogger(__name__)

MAX_BATCH: Final = 256
_PRELOAD: Final = ["sonet.relay.verifier"]


def _warm_up() -> int:
    return 0


class VerifyPool:
    """Batches :class:`VerifyJob` to ``workers`` processes (inline when 0)."""

    def __init__(self, workers: int, *, max_batch: int = MAX_BATCH) -> None:
        self.workers = max(0, workers)
        self.max_batch = max_batch
        self.max_inflight = max(1, self.workers * 2)
        self._executor: Executor | None = None
        self._pending: list[tuple[VerifyJob, asyncio.Future[VerifyOutcome]]] = []
        self._inflight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.jobs = 0

    async def start(self) -> None:
        """Start the worker processes (and wait until each has imported the verifier)."""
        if self.workers == 0 or self._executor is not None:
            return
        self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._executor, _warm_up) for _ in range(self.workers))
        )

    def _new_executor(self) -> Executor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=context)

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
        while self._pending and self._inflight < self.max_inflight:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            self._inflight += 1
            task = asyncio.create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[VerifyJob, asyncio.Future[VerifyOutcome]]]) -> None:
        jobs = [job for job, _ in batch]
        try:
            outcomes = await self._verify(jobs)
        except Exception as exc:
            log.exception("verification batch failed")
            message = f"verification failed: {exc!r}"[:500]
            outcomes = [VerifyOutcome(DropReason.INTERNAL.value, message)] * len(jobs)
        finally:
            self._inflight -= 1
            if self._pending and not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._dispatch)
        self.batches += 1
        self.jobs += len(jobs)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    async def _verify(self, jobs: list[VerifyJob]) -> list[VerifyOutcome]:
        if self._executor is None:
            return verify_batch(jobs)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, verify_batch, jobs)
        except BrokenProcessPool:
            log.error("a verification worker died; restarting the pool")
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()
            raise

    async def close(self) -> None:
        """Stop the workers; pending jobs are dropped."""
        for _, future in self._pending:
            future.cancel()
        self._pending.clear()
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.to_thread(executor.shutdown, True, cancel_futures=True)
