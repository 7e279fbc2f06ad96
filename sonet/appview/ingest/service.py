"""The AppView's ingest, assembled: firehose consumers, indexer, handle refresher, backfill.

``relay_urls`` are trusted firehoses (a relay has verified every commit): their frames are
decoded in worker processes. ``pds_urls`` are PDSes read directly: each of their commits is
verified as a relay would. ``backfill_hosts`` are PDSes whose existing repos are indexed at start
(listRepos + getRepo, verified). ``#sync`` and ``tooBig`` commits resync the repo from its PDS.
With no saved cursor a consumer starts at ``start_cursor`` (None: live events only; 0:
everything the source still holds).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sonet.appview.ingest.backfill import Backfiller
from sonet.appview.ingest.commit_reader import CommitVerifier
from sonet.appview.ingest.context import IndexConfig
from sonet.appview.ingest.decode_pool import DecodePool
from sonet.appview.ingest.firehose import FirehoseConsumer
from sonet.appview.ingest.frame_events import FrameDecoder
from sonet.appview.ingest.handles import HandleRefresher, verified_handle_or_none
from sonet.appview.ingest.indexer import Indexer
from sonet.appview.ingest.pipeline import IngestPipeline
from sonet.appview.ingest.repo_fetch import RepoFetcher
from sonet.appview.search.index import SearchIndex
from sonet.appview.search.updater import SearchUpdater
from sonet.identity.did_resolver import DidResolver
from sonet.identity.handle_resolver import HandleResolver
from sonet.lexicons import Lexicons
from sonet.net.http import HttpClient
from sonet.storage.database import Database
from sonet.sync.identities import IdentityDirectory

__all__ = ["IngestConfig", "IngestService"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestConfig:
    """What to read and how to index it."""

    relay_urls: Sequence[str] = ()
    pds_urls: Sequence[str] = ()
    backfill_hosts: Sequence[str] = ()
    start_cursor: int | None = None
    decode_workers: int = 1
    backfill_concurrency: int = 4
    index: IndexConfig = field(default_factory=IndexConfig)


class IngestService:
    """Runs ingestion into ``db`` (and ``search``) until :meth:`stop`."""

    def __init__(
        self,
        db: Database,
        config: IngestConfig,
        *,
        http: HttpClient,
        dids: DidResolver,
        handles: HandleResolver,
        search: SearchIndex | None = None,
        lexicons: Lexicons | None = None,
    ) -> None:
        self.config = config
        self.http = http
        self.dids = dids
        self.lexicons = lexicons or Lexicons.bundled()
        self.indexer = Indexer(
            db, config.index, search=None if search is None else SearchUpdater(db, search)
        )
        self.handles = HandleRefresher(self.indexer, verified_handle_or_none(dids, handles))
        self.indexer.on_handles = self.handles.request
        session = http.session()
        self.backfiller = Backfiller(
            self.indexer,
            RepoFetcher(session, dids, self.lexicons),
            session,
            concurrency=config.backfill_concurrency,
        )
        self.pool = DecodePool(config.decode_workers) if config.decode_workers > 0 else None
        self.consumers: list[FirehoseConsumer] = []
        self._tasks: list[asyncio.Task[None]] = []

    def _consumer(self, url: str, verifier: CommitVerifier | None) -> FirehoseConsumer:
        pipeline = IngestPipeline(
            self.indexer,
            FrameDecoder(self.lexicons, verifier),
            url,
            pool=self.pool if verifier is None else None,
            resync=self.backfiller.resync,
        )
        return FirehoseConsumer(
            pipeline, url, self.http.session(), initial_cursor=self.config.start_cursor
        )

    async def start(self) -> None:
        """Start every consumer and backfill."""
        await self.indexer.prepare()
        self.handles.start()
        if self.pool is not None and self.config.relay_urls:
            await self.pool.start()
        identities = IdentityDirectory(self.dids)
        self.consumers = [self._consumer(url, None) for url in self.config.relay_urls]
        self.consumers += [
            self._consumer(url, CommitVerifier(identities, url)) for url in self.config.pds_urls
        ]
        for consumer in self.consumers:
            self._tasks.append(asyncio.create_task(consumer.run(), name=f"firehose {consumer}"))
        for host in self.config.backfill_hosts:
            self._tasks.append(asyncio.create_task(self._backfill(host)))

    async def _backfill(self, host: str) -> None:
        try:
            await self.backfiller.backfill_host(host)
        except Exception:
            log.exception("backfill of %s failed", host)

    async def stop(self) -> None:
        """Stop consuming, index what was received, and release the workers."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for consumer in self.consumers:
            await consumer.stop()
        await self.backfiller.stop()
        await self.handles.stop()
        if self.pool is not None:
            await self.pool.close()
