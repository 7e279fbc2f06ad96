"""Redis fixed-window counters for :mod:`sonet.xrpc.ratelimit`, shared by every process.

The increment and the window's expiry are set in one Lua script, so concurrent callers never
see a counter without a window.
"""

from __future__ import annotations

from typing import Any, Final

from redis.asyncio import Redis

__all__ = ["RedisRateLimitBackend"]

_CONSUME: Final = """
local consumed = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {consumed, ttl}
"""


class RedisRateLimitBackend:
    """Counters under ``prefix`` in the Redis of ``client`` (``redis.asyncio.Redis``)."""

    def __init__(self, client: Redis, prefix: str = "sonet:") -> None:
        self._client = client
        self._prefix = prefix
        self._script: Any = client.register_script(_CONSUME)

    async def consume(self, key: str, points: int, window_ms: int) -> tuple[int, int]:
        consumed, ttl = await self._script(keys=[self._prefix + key], args=[points, window_ms])
        return int(consumed), int(ttl)

    async def reset(self, key: str) -> None:
        await self._client.delete(self._prefix + key)
