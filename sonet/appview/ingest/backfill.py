"""Backfill: index every repository a PDS hosts, and resync single repos.

https://atproto.com/specs/sync#bootstrapping: ``com.atproto.sync.listRepos`` pages through the
host's accounts (DID, head rev, active flag); each active repo not already indexed at that rev is
fetched with ``getRepo``, verified and indexed as a snapshot (records missing from it are
deleted from the index). Several repos are fetched at once; progress is logged as repos done of
total and records per second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from sonet.appview.ingest.errors import SourceError
from sonet.appview.ingest.indexer import Indexer
from sonet.appview.ingest.repo_fetch import RepoFetcher
from sonet.appview.ingest.times import now_iso
from sonet.storage.appview_index_actors import repo_rev
from sonet.storage.appview_index_state import save_backfill_host
from sonet.storage.appview_steps import run_steps
from sonet.xrpc.client import XrpcClient
from sonet.xrpc.errors import XRPCError

__all__ = ["BackfillReport", "Backfiller"]

log = logging.getLogger(__name__)

PAGE: Final = 1000


@dataclass
class BackfillReport:
    """What a host backfill did."""

    host: str
    listed: int = 0
    indexed: int = 0
    skipped: int = 0
    failed: int = 0
    records: int = 0
    seconds: float = 0.0


class Backfiller:
    """Fetches repos through ``fetcher`` and indexes them with ``indexer``."""

    def __init__(
        self,
        indexer: Indexer,
        fetcher: RepoFetcher,
        session: aiohttp.ClientSession,
        *,
        concurrency: int = 4,
        progress_every: float = 5.0,
    ) -> None:
        self.indexer = indexer
        self.fetcher = fetcher
        self.session = session
        self.concurrency = concurrency
        self.progress_every = progress_every
        self._resyncs: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def list_repos(self, host: str) -> list[dict[str, Any]]:
        """Every repo ``listRepos`` reports for ``host``."""
        client = XrpcClient(self.session, host)
        repos: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": PAGE}
            if cursor:
                params["cursor"] = cursor
            try:
                page = await client.query("com.atproto.sync.listRepos", params)
            except XRPCError as exc:
                raise SourceError(f"listRepos on {host} failed: {exc}") from None
            batch = page.get("repos") if isinstance(page, dict) else None
            if not isinstance(batch, list):
                raise SourceError(f"listRepos on {host} answered no repos list")
            repos.extend(r for r in batch if isinstance(r, dict) and isinstance(r.get("did"), str))
            cursor = page.get("cursor")
            if not batch or not isinstance(cursor, str):
                return repos

    async def _indexed_rev(self, did: str) -> str | None:
        async with self.indexer.db.read() as conn:
            row = await run_steps(conn, repo_rev(did))
        return None if row is None else row[0]

    async def index_repo(self, did: str) -> int:
        """Fetch, verify and index one repo now; returns its indexed record count."""
        snapshot = await self.fetcher.snapshot(did)
        await self.indexer.apply([snapshot])
        return len(snapshot.records)

    async def backfill_host(self, host: str) -> BackfillReport:
        """Index every active repo of the PDS at ``host`` (``https://...``)."""
        report = BackfillReport(host)
        started = time.monotonic()
        repos = await self.list_repos(host)
        report.listed = len(repos)
        todo: list[str] = []
        for repo in repos:
            did, rev = repo["did"], repo.get("rev")
            known = await self._indexed_rev(did)
            if repo.get("active") is False or (known and isinstance(rev, str) and known >= rev):
                report.skipped += 1
            else:
                todo.append(did)
        log.info("backfill %s: %d repos listed, %d to fetch", host, len(repos), len(todo))
        queue: asyncio.Queue[str] = asyncio.Queue()
        for did in todo:
            queue.put_nowait(did)
        last_log = started

        async def worker() -> None:
            nonlocal last_log
            while not queue.empty():
                did = queue.get_nowait()
                try:
                    report.records += await self.index_repo(did)
                    report.indexed += 1
                except SourceError as exc:
                    report.failed += 1
                    log.warning("backfill %s: %s", host, exc)
                now = time.monotonic()
                if now - last_log >= self.progress_every:
                    last_log = now
                    self._progress(report, len(todo), now - started)

        await asyncio.gather(*(worker() for _ in range(max(1, self.concurrency))))
        report.seconds = time.monotonic() - started
        self._progress(report, len(todo), report.seconds)
        await self.indexer.run(save_backfill_host(host, report.indexed, now_iso()))
        return report

    @staticmethod
    def _progress(report: BackfillReport, total: int, elapsed: float) -> None:
        done = report.indexed + report.failed
        rate = report.records / elapsed if elapsed > 0 else 0.0
        log.info(
            "backfill %s: %d/%d repos (%d failed), %d records, %.0f records/s",
            report.host,
            done,
            total,
            report.failed,
            report.records,
            rate,
        )

    async def resync(self, did: str) -> None:
        """Fetch ``did``'s repo again in the background (``#sync``, ``tooBig``)."""
        if did in self._resyncs:
            return
        self._resyncs.add(did)
        task = asyncio.create_task(self._resync(did))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resync(self, did: str) -> None:
        try:
            await self.index_repo(did)
        except SourceError as exc:
            log.warning("resync of %s failed: %s", did, exc)
        except Exception:
            log.exception("resync of %s failed", did)
        finally:
            self._resyncs.discard(did)

    async def wait_resyncs(self) -> None:
        """Wait for the background resyncs in flight."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """Abandon the resyncs in flight (they are repeated by the next ``#sync``)."""
        for task in list(self._tasks):
            task.cancel()
        await self.wait_resyncs()
