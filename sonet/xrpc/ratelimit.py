"""Fixed-window rate limits keyed per client IP or per account.

https://atproto.com/specs/xrpc#summary-of-http-status-codes: an exceeded limit is answered with
429 (``RateLimitExceeded``) and ``Retry-After``. Like the reference PDS, every limited response
carries ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset`` (Unix seconds) and
``RateLimit-Policy`` (``<points>;w=<seconds>``) for the tightest limit that applied. Counters
live in a :class:`RateLimitBackend`: in memory (one process) or in Redis (shared).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from sonet.xrpc.context import HandlerContext
from sonet.xrpc.errors import RateLimitExceededError

__all__ = [
    "EXPOSED_HEADERS",
    "CostFn",
    "KeyFn",
    "LimitStatus",
    "RateLimit",
    "RateLimitBackend",
    "RateLimiter",
    "account_key",
    "ip_key",
    "rate_limit_headers",
]

log = logging.getLogger(__name__)

EXPOSED_HEADERS: Final = (
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
)

KeyFn = Callable[[HandlerContext[Any]], str | None]
"""The bucket a call counts against; ``None`` exempts the call."""
CostFn = Callable[[HandlerContext[Any]], int]
"""How many points a call costs; less than 1 exempts the call."""


def ip_key(ctx: HandlerContext[Any]) -> str | None:
    """Count calls per client IP address (the socket's peer)."""
    return ctx.request.remote


def account_key(ctx: HandlerContext[Any]) -> str | None:
    """Count calls per authenticated account (``auth.did``), else per client IP."""
    did = getattr(ctx.auth, "did", None)
    return did if isinstance(did, str) else ip_key(ctx)


def one_point(_ctx: HandlerContext[Any]) -> int:
    """Every call costs one point."""
    return 1


class RateLimitBackend(Protocol):
    """Atomic fixed-window counters."""

    async def consume(self, key: str, points: int, window_ms: int) -> tuple[int, int]:
        """Add ``points`` to the counter of ``key`` (starting a ``window_ms`` window if there
        is none); return the points consumed in the window and the milliseconds left in it."""
        ...

    async def reset(self, key: str) -> None:
        """Forget the counter of ``key``."""
        ...


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``points`` points per ``duration`` seconds in each bucket of ``key``.

    Limits with the same ``name`` share their counters (across routes too).
    ``fail_closed`` refuses calls when the backend fails; by default they are let through.
    """

    name: str
    points: int
    duration: float
    key: KeyFn = ip_key
    cost: CostFn = one_point
    fail_closed: bool = False

    def __post_init__(self) -> None:
        if self.points < 1 or self.duration <= 0:
            raise ValueError("a rate limit needs at least 1 point and a positive duration")


@dataclass(frozen=True, slots=True)
class LimitStatus:
    """A bucket's state right after a call was counted."""

    limit: int
    duration: float
    consumed: int
    ms_before_next: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.consumed)

    @property
    def exceeded(self) -> bool:
        return self.consumed > self.limit


def rate_limit_headers(status: LimitStatus, now: float | None = None) -> dict[str, str]:
    """The ``RateLimit-*`` response headers describing ``status``."""
    current = time.time() if now is None else now
    return {
        "RateLimit-Limit": str(status.limit),
        "RateLimit-Remaining": str(status.remaining),
        "RateLimit-Reset": str(int(current + status.ms_before_next / 1000)),
        "RateLimit-Policy": f"{status.limit};w={math.floor(status.duration)}",
    }


class RateLimiter:
    """Applies a set of :class:`RateLimit` rules to calls, against one backend."""

    def __init__(
        self,
        backend: RateLimitBackend,
        limits: Iterable[RateLimit],
        *,
        prefix: str = "rl",
        bypass: Callable[[HandlerContext[Any]], bool] | None = None,
    ) -> None:
        self.backend = backend
        self.limits: tuple[RateLimit, ...] = tuple(limits)
        self.prefix = prefix
        self.bypass = bypass

    def _bucket(self, limit: RateLimit, key: str) -> str:
        return f"{self.prefix}:{limit.name}:{key}"

    async def _consume(self, limit: RateLimit, ctx: HandlerContext[Any]) -> LimitStatus | None:
        key = limit.key(ctx)
        points = limit.cost(ctx)
        if key is None or points < 1:
            return None
        try:
            consumed, ms_left = await self.backend.consume(
                self._bucket(limit, key), points, math.ceil(limit.duration * 1000)
            )
        except Exception:
            if limit.fail_closed:
                raise
            log.exception("rate limiter %s failed; letting the call through", limit.name)
            return None
        return LimitStatus(limit.points, limit.duration, consumed, max(0, ms_left))

    async def check(self, ctx: HandlerContext[Any]) -> LimitStatus | None:
        """Count the call against every limit; set the ``RateLimit-*`` headers of the tightest
        one on ``ctx``, and raise :class:`RateLimitExceededError` if any is exceeded."""
        if not self.limits or (self.bypass is not None and self.bypass(ctx)):
            return None
        if len(self.limits) == 1:
            found: Sequence[LimitStatus | None] = [await self._consume(self.limits[0], ctx)]
        else:
            found = await asyncio.gather(*(self._consume(limit, ctx) for limit in self.limits))
        statuses = [status for status in found if status is not None]
        if not statuses:
            return None
        exceeded = [status for status in statuses if status.exceeded]
        if exceeded:
            worst = max(exceeded, key=lambda status: status.ms_before_next)
            headers = rate_limit_headers(worst)
            headers["Retry-After"] = str(math.ceil(worst.ms_before_next / 1000))
            ctx.response_headers.update(headers)
            raise RateLimitExceededError()
        tightest = min(statuses, key=lambda status: status.remaining)
        ctx.response_headers.update(rate_limit_headers(tightest))
        return tightest

    async def reset(self, ctx: HandlerContext[Any]) -> None:
        """Forget the counters this call counts against (after a successful login, say)."""
        for limit in self.limits:
            key = limit.key(ctx)
            if key is not None:
                await self.backend.reset(self._bucket(limit, key))
