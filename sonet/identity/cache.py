"""Caches for resolved identities: fresh, then served stale while refreshed, then gone.

Like the reference resolvers, an entry is fresh for ``fresh_seconds`` (default one
hour), may be served stale (and refreshed in the background) up to
``max_age_seconds`` (default one day), and is dropped after that.
https://atproto.com/specs/did#did-resolution and https://atproto.com/specs/handle
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

V = TypeVar("V")

HOUR: Final = 3600.0
DEFAULT_MAX_ENTRIES: Final = 100_000


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """How long an entry stays fresh, and how long it may be served at all."""

    fresh_seconds: float = HOUR
    max_age_seconds: float = 24 * HOUR

    def __post_init__(self) -> None:
        if not 0 <= self.fresh_seconds <= self.max_age_seconds:
            raise ValueError("need 0 <= fresh_seconds <= max_age_seconds")


@dataclass(frozen=True, slots=True)
class CacheHit(Generic[V]):
    """A cached value; ``stale`` once older than the fresh period."""

    value: V
    stale: bool


class IdentityCache(ABC, Generic[V]):
    """Where resolved DID documents (or handle → DID answers) are kept, keyed by string.

    ``get`` returns None for a missing or expired entry.
    """

    def __init__(self, policy: CachePolicy | None = None) -> None:
        self.policy = policy or CachePolicy()

    @abstractmethod
    async def get(self, key: str) -> CacheHit[V] | None:
        """The entry for ``key`` if it has not expired."""

    @abstractmethod
    async def set(self, key: str, value: V) -> None:
        """Store ``value`` for ``key``, fresh from now."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Forget ``key``."""

    @abstractmethod
    async def clear(self) -> None:
        """Forget every entry of this cache."""

    async def close(self) -> None:
        """Release what the cache holds open (nothing, by default)."""


class MemoryCache(IdentityCache[V]):
    """An in-process cache, bounded to ``max_entries`` (least recently used dropped)."""

    def __init__(
        self,
        policy: CachePolicy | None = None,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(policy)
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[V, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CacheHit[V] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, stored_at = entry
        age = self._clock() - stored_at
        if age > self.policy.max_age_seconds:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return CacheHit(value, age > self.policy.fresh_seconds)

    async def set(self, key: str, value: V) -> None:
        self._entries[key] = (value, self._clock())
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    async def clear(self) -> None:
        self._entries.clear()
