"""The AppView's write path: applies batches of index events to the database.

A batch runs in one transaction (on SQLite in one hop to the database thread). If it fails, its
events are applied again one by one so that a single bad event is logged and skipped instead of
stalling the stream. After a commit, the search index gets the changed posts and actors, and
actors whose handle must be (re)resolved are handed to ``on_handles``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from sonet.appview.ingest.apply import apply_events
from sonet.appview.ingest.context import BatchContext, IndexConfig
from sonet.appview.ingest.events import IndexEvent
from sonet.appview.ingest.times import now_iso
from sonet.appview.search.documents import PostDocument
from sonet.storage.appview_index_state import save_cursor, tune_writer
from sonet.storage.appview_steps import Steps, run_steps
from sonet.storage.database import Database
from sonet.storage.raw_sqlite import run_on_sqlite

__all__ = ["Indexer", "SearchSink"]

log = logging.getLogger(__name__)
T = TypeVar("T")

WAL_AUTOCHECKPOINT = 100_000
"""The writer's own checkpoint threshold in pages: only a backstop, since the database's
background thread (:class:`~sonet.storage.wal_checkpointer.WalCheckpointer`) checkpoints; a
batch can write tens of thousands of pages, which a lower threshold would copy back inside its
commit (at 10,000 users and 300,000 posts, 8,000 cost the indexer 14% more CPU per event and
a quarter of its throughput)."""
WRITER_CACHE_MIB = 1024
WRITER_MMAP_MIB = 4096
MAX_KNOWN_REVS = 2_000_000
"""Repo revs kept in memory (about 150 bytes each) to skip a lookup per commit."""
MAX_KNOWN_TIMELINE_IDS = 2_000_000
"""Timeline ids of actors kept in memory (about 150 bytes each) to skip lookups per item and
per follow."""


class SearchSink(Protocol):
    """Where changed posts and actors go after each committed batch."""

    async def index_changes(
        self, posts: Mapping[str, PostDocument | None], actors: set[str]
    ) -> None:
        """Replace or delete (None) post documents; rebuild the documents of ``actors``."""

    async def refresh_actors(self, dids: set[str]) -> None:
        """Rebuild the documents of ``dids``."""


class Indexer:
    """Applies event batches; ``stats`` accumulates what was done."""

    def __init__(
        self,
        db: Database,
        config: IndexConfig | None = None,
        *,
        search: SearchSink | None = None,
        on_handles: Callable[[set[str]], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.config = config or IndexConfig()
        self.search = search
        self.on_handles = on_handles
        self.stats: Counter[str] = Counter()
        self._known_revs: dict[str, str] = {}
        self._known_timeline_ids: dict[str, int] = {}

    async def prepare(
        self,
        wal_autocheckpoint: int = WAL_AUTOCHECKPOINT,
        cache_mib: int = WRITER_CACHE_MIB,
        mmap_mib: int = WRITER_MMAP_MIB,
    ) -> None:
        """Tune the writer connection for bulk indexing (SQLite): leave checkpoints to the
        background thread until the write-ahead log reaches ``wal_autocheckpoint`` pages, and
        keep up to ``cache_mib`` of pages in its cache and ``mmap_mib`` memory-mapped: index
        inserts land on random pages of large B-trees, so a cache smaller than the hot part of
        the index turns most of them into reads."""
        if not self.db.is_sqlite:
            return
        async with self.db.write() as conn:
            await run_on_sqlite(
                conn, lambda sq: tune_writer(sq, wal_autocheckpoint, cache_mib, mmap_mib)
            )

    async def run(self, steps: Steps[T]) -> T:
        """Run index steps in one write transaction."""
        async with self.db.write() as conn:
            return await run_steps(conn, steps)

    async def apply(
        self, events: Sequence[IndexEvent], cursor: tuple[str, int] | None = None
    ) -> None:
        """Apply ``events`` in order and move ``cursor`` (source, seq) past them."""
        ctx = BatchContext(
            self.config,
            known_revs=self._known_revs,
            known_timeline_ids=self._known_timeline_ids,
        )
        try:
            await self.run(apply_events(ctx, events, now_iso(), cursor))
        except Exception:
            if len(events) <= 1:
                log.exception("indexing failed; event skipped: %r", events[:1])
                self.stats["failed_events"] += len(events)
                if cursor is not None:
                    await self.run(save_cursor(cursor[0], cursor[1], now_iso()))
                return
            log.warning("batch of %d events failed; applying them one by one", len(events))
            for i, event in enumerate(events):
                await self.apply([event], cursor if i == len(events) - 1 else None)
            return
        self.stats.update(ctx.stats)
        self._remember_revs(ctx)
        self._remember_timeline_ids(ctx)
        await self._after_commit(ctx)

    def _remember_revs(self, ctx: BatchContext) -> None:
        known = self._known_revs
        if len(known) > MAX_KNOWN_REVS:
            known.clear()
        for did in ctx.removed_actors:
            known.pop(did, None)
        for did, (rev, _) in ctx.repo_revs.items():
            known[did] = rev

    def _remember_timeline_ids(self, ctx: BatchContext) -> None:
        known = self._known_timeline_ids
        if len(known) + len(ctx.timeline_ids) > MAX_KNOWN_TIMELINE_IDS:
            known.clear()
        known.update(ctx.timeline_ids)

    async def _after_commit(self, ctx: BatchContext) -> None:
        if self.search is not None and (ctx.post_docs or ctx.actor_docs):
            try:
                await self.search.index_changes(ctx.post_docs, ctx.actor_docs)
            except Exception:
                log.exception("search indexing failed")
        if self.on_handles is not None and ctx.resolve_handles:
            await self.on_handles(ctx.resolve_handles)
