"""Run synchronous MST work against blocks that live in an async database.

The MST reads blocks through a synchronous :class:`~sonet.repo.blockstore.BlockSource`. Here the
work runs against an in-memory block cache; when it needs a block the cache lacks, it stops with
:class:`MissingBlockError`, the block is fetched asynchronously and the work runs again. MST
operations are pure, so re-running is safe, and after the first write to a repo the path is cached.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from sonet.repo.blockstore import MemoryBlockstore, MissingBlockError
from sonet.repo.cid import CID

__all__ = ["run_filled"]

T = TypeVar("T")

MAX_FETCHES = 512


async def run_filled(
    work: Callable[[], T],
    cache: MemoryBlockstore,
    fetch: Callable[[Iterable[CID]], Awaitable[dict[CID, bytes]]],
) -> T:
    """Return ``work()``, fetching each missing block into ``cache`` and retrying."""
    for _ in range(MAX_FETCHES):
        try:
            return work()
        except MissingBlockError as missing:
            found = await fetch([missing.cid])
            if missing.cid not in found:
                raise
            cache.update(found.items())
    raise RuntimeError(f"gave up after fetching {MAX_FETCHES} blocks")
