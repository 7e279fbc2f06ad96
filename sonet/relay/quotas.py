"""Per-host event quotas: sliding-window limits per second, hour and day.

As in the reference relay, a host that sends faster than its quota is slowed down, not cut off:
reading its stream pauses until the windows allow more events, so the backlog stays with the host
(TCP back-pressure) and no valid event is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final

from sonet.relay.config import HostQuotas

__all__ = ["HostLimiter", "SlidingWindow"]

POLL_SECONDS: Final = 0.1


class SlidingWindow:
    """Approximate sliding window: this window's count plus the previous one's, weighted by how
    much of it still overlaps."""

    __slots__ = ("_clock", "_current", "_previous", "_start", "limit", "window")

    def __init__(
        self, window: float, limit: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window = window
        self.limit = limit
        self._clock = clock
        self._start = clock()
        self._current = 0
        self._previous = 0

    def _roll(self, now: float) -> None:
        elapsed = now - self._start
        if elapsed < self.window:
            return
        periods = int(elapsed // self.window)
        self._previous = self._current if periods == 1 else 0
        self._current = 0
        self._start += periods * self.window

    def has_room(self, now: float) -> bool:
        """Whether one more event fits at ``now`` (without counting it)."""
        self._roll(now)
        overlap = 1.0 - (now - self._start) / self.window
        return self._previous * overlap + self._current + 1 <= self.limit

    def count(self) -> None:
        """Count one event."""
        self._current += 1

    def allow(self) -> bool:
        """Count one event if the window has room for it."""
        if not self.has_room(self._clock()):
            return False
        self._current += 1
        return True


class HostLimiter:
    """The three windows of one host."""

    def __init__(self, quotas: HostQuotas, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.windows = (
            SlidingWindow(1.0, quotas.per_second, clock),
            SlidingWindow(3600.0, quotas.per_hour, clock),
            SlidingWindow(86400.0, quotas.per_day, clock),
        )
        self.throttled = 0
        """How many times an event had to wait."""

    @property
    def quotas(self) -> HostQuotas:
        """The current limits."""
        second, hour, day = self.windows
        return HostQuotas(second.limit, hour.limit, day.limit)

    def set_quotas(self, quotas: HostQuotas) -> None:
        """Change the limits in place (counts are kept)."""
        second, hour, day = self.windows
        second.limit, hour.limit, day.limit = quotas.per_second, quotas.per_hour, quotas.per_day

    def try_acquire(self) -> bool:
        """Count one event if every window admits it now (none is counted otherwise)."""
        now = self._clock()
        second, hour, day = self.windows
        if not (second.has_room(now) and hour.has_room(now) and day.has_room(now)):
            return False
        second.count()
        hour.count()
        day.count()
        return True

    async def acquire(self) -> None:
        """Wait until every window admits one more event."""
        if self.try_acquire():
            return
        self.throttled += 1
        while not self.try_acquire():
            await asyncio.sleep(POLL_SECONDS)
