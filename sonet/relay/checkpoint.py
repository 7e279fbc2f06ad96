"""Keeping the relay's state consistent with its event log, cheaply.

The event log is the source of truth. Each outgoing batch is appended to it as it is committed;
the account heads (last accepted commit) and host cursors that go with the batch are written to
the database by a checkpoint, about once a second, together with the log position they reach.
After a crash the relay reads the log beyond the last checkpoint to bring the heads up to date,
so that hosts replaying from their saved cursors cannot get an event accepted twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final, Protocol

from sonet.relay.accounts import AccountDirectory, RepoHead
from sonet.relay.event_log import EventLog
from sonet.storage.database import Database
from sonet.storage.relay_account_store import RelayAccountStore
from sonet.storage.relay_host_store import HostStore
from sonet.storage.relay_meta_store import RelayMetaStore
from sonet.storage.sequencer_store import SequencedEvent
from sonet.sync.verifier import repo_head_of

__all__ = ["CHECKPOINT_KEY", "Checkpointer", "CursorSource"]

log = logging.getLogger(__name__)

CHECKPOINT_KEY: Final = "checkpoint_seq"
RECOVERY_PAGE: Final = 500


class CursorSource(Protocol):
    """Where the hosts' processed upstream sequence numbers come from (the slurper)."""

    def cursors(self) -> list[tuple[int, int]]: ...

    def restore_cursors(self, cursors: dict[int, int]) -> None: ...


class Checkpointer:
    """Commits outgoing batches to the log and checkpoints the state that goes with them.

    ``cursors`` must be set before the first batch (the slurper is built after the outbox that
    calls :meth:`commit`)."""

    def __init__(
        self, db: Database, log: EventLog, accounts: AccountDirectory, period: float
    ) -> None:
        self.db = db
        self.log = log
        self.accounts = accounts
        self.period = period
        self.cursors: CursorSource | None = None
        self.account_store = RelayAccountStore()
        self.hosts = HostStore()
        self.meta = RelayMetaStore()
        self._unsaved_cursors: dict[int, int] = {}
        self._unsaved_seq = 0
        self._saved_seq = 0

    def _cursor_source(self) -> CursorSource:
        assert self.cursors is not None, "Checkpointer.cursors is not set"
        return self.cursors

    async def commit(self, batch: list[SequencedEvent]) -> None:
        """Append one outgoing batch to the log; the account and host state that goes with it
        (taken now, before any ``await``) waits for the next checkpoint."""
        source = self._cursor_source()
        repos = self.accounts.take_dirty()
        cursors = dict(source.cursors())
        try:
            await self.log.append(batch)
        except BaseException:
            self.accounts.restore_dirty(repos)
            source.restore_cursors(cursors)
            raise
        self.accounts.mark_logged(repos)
        self._unsaved_cursors.update(cursors)
        self._unsaved_seq = batch[-1].seq

    async def checkpoint(self) -> None:
        """Write the account heads and host cursors of every logged event, and the log position
        they reach."""
        repos = self.accounts.take_logged()
        cursors, self._unsaved_cursors = self._unsaved_cursors, {}
        seq = self._unsaved_seq
        if not repos and not cursors and seq == self._saved_seq:
            self.accounts.saved(True)
            return
        try:
            async with self.db.write() as conn:
                await self.account_store.save_repos(
                    conn, [(uid, head.state()) for uid, head in repos.values()]
                )
                await self.hosts.save_cursors(conn, list(cursors.items()))
                await self.meta.put(conn, CHECKPOINT_KEY, seq)
        except BaseException:
            self.accounts.saved(False)
            self._unsaved_cursors = {**cursors, **self._unsaved_cursors}
            raise
        self.accounts.saved(True)
        self._saved_seq = seq

    async def run(self) -> None:
        """Checkpoint every ``period`` seconds, forever."""
        while True:
            await asyncio.sleep(self.period)
            try:
                await self.checkpoint()
            except Exception:
                log.exception("checkpointing relay state failed")

    async def recover(self) -> None:
        """Bring account heads up to date with events logged after the last checkpoint."""
        async with self.db.read() as conn:
            cursor = await self.meta.get(conn, CHECKPOINT_KEY) or 0
        self._saved_seq = cursor
        replayed = 0
        while True:
            page = await self.log.read_after(cursor, RECOVERY_PAGE)
            if not page:
                break
            for event in page:
                if event.kind in ("#commit", "#sync"):
                    replayed += await self._recover_head(event.frame)
            cursor = page[-1].seq
        self.accounts.mark_logged(self.accounts.take_dirty())
        self._unsaved_seq = self.log.latest_seq
        if replayed:
            log.info("recovered %d account heads from the event log", replayed)
        await self.checkpoint()

    async def _recover_head(self, frame: bytes) -> int:
        found = repo_head_of(frame)
        if found is None:
            return 0
        did, rev, commit, data = found
        account = await self.accounts.get(did)
        if account is None or (account.repo is not None and account.repo.rev >= rev):
            return 0
        self.accounts.record_repo(account, RepoHead(rev, commit, data))
        return 1
