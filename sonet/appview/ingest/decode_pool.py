"""Decoding firehose frames in worker processes.

Reading a relay, the consumer's own process spends most of its time indexing; parsing frames,
reading their CAR slices, decoding and lexicon-checking records happens meanwhile in
``workers`` other processes (true parallelism, which threads would not give). Chunks of frames
are decoded in order-preserving jobs; results come back pickled (about 10 us per event to load).
Workers never verify commits: a PDS read directly is decoded in process, with its verifier.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from typing import Final

from sonet.appview.ingest.frame_events import Decoded, FrameDecoder
from sonet.lexicons import Lexicons

__all__ = ["DecodePool"]

_PRELOAD: Final = ["sonet.appview.ingest.frame_events"]
_decoder: FrameDecoder | None = None


def _decode_chunk(frames: list[bytes]) -> tuple[list[Decoded], Counter[str]]:
    """Worker side: decode ``frames``; returns the results and the counters they added."""
    global _decoder
    if _decoder is None:
        _decoder = FrameDecoder(Lexicons.bundled())
    _decoder.stats.clear()
    return [_decoder.decode_unverified(f) for f in frames], Counter(_decoder.stats)


def _warm_up() -> int:
    _decode_chunk([])
    return 0


class DecodePool:
    """``workers`` decoding processes; ``stats`` sums their counters."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)
        self.stats: Counter[str] = Counter()
        self._executor: ProcessPoolExecutor | None = None

    async def start(self) -> None:
        """Start the processes and wait until each has loaded the lexicons."""
        if self._executor is not None:
            return
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._executor, _warm_up) for _ in range(self.workers))
        )

    async def decode_many(self, frames: list[bytes]) -> list[Decoded]:
        """Decode ``frames`` in a worker, in order."""
        if self._executor is None:
            await self.start()
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        decoded, stats = await loop.run_in_executor(self._executor, _decode_chunk, frames)
        self.stats.update(stats)
        return decoded

    async def close(self) -> None:
        """Stop the processes."""
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.to_thread(executor.shutdown, True, cancel_futures=True)
