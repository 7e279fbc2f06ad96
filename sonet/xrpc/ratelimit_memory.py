"""In-process fixed-window counters for :mod:`sonet.xrpc.ratelimit` (the embedded default)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

__all__ = ["MemoryRateLimitBackend"]

PRUNE_EVERY: Final = 4096


class MemoryRateLimitBackend:
    """Counters in a dict; expired windows are dropped now and then. Not shared between
    processes: use :class:`~sonet.xrpc.ratelimit_redis.RedisRateLimitBackend` for that."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, list[float]] = {}
        self._calls = 0

    def __len__(self) -> int:
        return len(self._windows)

    async def consume(self, key: str, points: int, window_ms: int) -> tuple[int, int]:
        now = self._clock()
        self._calls += 1
        if self._calls % PRUNE_EVERY == 0:
            self._prune(now)
        window = self._windows.get(key)
        if window is None or window[1] <= now:
            window = [0.0, now + window_ms / 1000]
            self._windows[key] = window
        window[0] += points
        return int(window[0]), int((window[1] - now) * 1000)

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    def _prune(self, now: float) -> None:
        expired = [key for key, (_, end) in self._windows.items() if end <= now]
        for key in expired:
            del self._windows[key]
