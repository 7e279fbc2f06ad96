"""Keeping actors' handles verified (https://atproto.com/specs/handle#handle-resolution).

New DIDs and ``#identity`` events queue the DID here; a few workers resolve its document (fresh,
bypassing caches for ``#identity``), check the claimed handle resolves back to the DID, and
store the result (None, shown as ``handle.invalid``, when it does not). Results are written in
small batches, and the actors' search documents refreshed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from sonet.appview.ingest.actors import set_handle
from sonet.appview.ingest.indexer import Indexer
from sonet.appview.ingest.times import now_iso
from sonet.identity.did_resolver import DidResolver
from sonet.identity.errors import IdentityError
from sonet.identity.handle_resolver import HandleResolver
from sonet.identity.verify import verify_identity_handle
from sonet.storage.appview_steps import Steps
from sonet.syntax.handle import INVALID_HANDLE

__all__ = ["HandleRefresher", "Resolve", "verified_handle_or_none"]

log = logging.getLogger(__name__)

Resolve = Callable[[str], Awaitable[str | None]]
"""``did -> verified handle`` (None when invalid); raises :class:`IdentityError` when the DID
itself cannot be resolved."""


def verified_handle_or_none(dids: DidResolver, handles: HandleResolver) -> Resolve:
    """A :data:`Resolve` over the identity resolvers (always fetching the DID document anew)."""

    async def resolve(did: str) -> str | None:
        identity = await dids.resolve_atproto(did, force_refresh=True)
        handle = await verify_identity_handle(handles, identity)
        return None if handle == INVALID_HANDLE else handle

    return resolve


class HandleRefresher:
    """Resolves queued DIDs with ``resolve`` and stores their handles through ``indexer``."""

    def __init__(self, indexer: Indexer, resolve: Resolve, *, workers: int = 4) -> None:
        self.indexer = indexer
        self.resolve = resolve
        self.workers = workers
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the resolving workers."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]

    async def request(self, dids: Iterable[str]) -> None:
        """Queue DIDs (each once while pending)."""
        for did in dids:
            if did not in self._queued:
                self._queued.add(did)
                self._queue.put_nowait(did)

    async def drain(self) -> None:
        """Wait until every queued DID is resolved and stored."""
        await self._queue.join()

    async def stop(self) -> None:
        """Stop the workers."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _work(self) -> None:
        while True:
            did = await self._queue.get()
            try:
                await self._refresh(did)
            except Exception:
                log.exception("handle refresh of %s failed", did)
            finally:
                self._queued.discard(did)
                self._queue.task_done()

    async def _refresh(self, did: str) -> None:
        try:
            handle = await self.resolve(did)
        except IdentityError as exc:
            log.info("cannot resolve %s: %s", did, exc)
            return
        await self.indexer.run(self._store(did, handle))
        if self.indexer.search is not None:
            await self.indexer.search.refresh_actors({did})

    @staticmethod
    def _store(did: str, handle: str | None) -> Steps[None]:
        yield from set_handle(did, handle, now_iso())
