"""Accounts the relay has seen: host, statuses and last accepted commit, cached in memory.

The ingesting process is the only writer, so its cache is authoritative: the last accepted commit
of an account is updated in memory as each commit is accepted. Heads move through three stages:
*dirty* (accepted, its event not yet in the log), *logged* (its event is in the log) and saved
(checkpointed to the database, :meth:`AccountDirectory.take_logged`); an account read back from the
database while a newer head is pending gets that head. After a crash the relay re-reads what its
event log holds beyond the last checkpoint.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final, NamedTuple

from sonet.relay.status import AccountStatus, account_is_active, public_account_status
from sonet.repo.cid import CID, parse_cid_bytes
from sonet.storage.database import Database
from sonet.storage.relay_account_store import AccountRow, RelayAccountStore, RepoState
from sonet.storage.relay_host_store import HostStore

__all__ = ["Account", "AccountDirectory", "AccountNotFoundError", "RepoHead", "account_from_row"]

MAX_CACHED: Final = 200_000


class AccountNotFoundError(LookupError):
    """No account with that DID is known to the relay."""


class RepoHead(NamedTuple):
    """The last accepted commit of an account: its rev, CID and MST root (``prevData`` next).
    A named tuple: one is built per accepted commit."""

    rev: str
    commit: CID
    data: CID

    def state(self) -> RepoState:
        """The stored form."""
        return RepoState(self.rev, bytes(self.commit), bytes(self.data))

    @classmethod
    def from_state(cls, state: RepoState) -> RepoHead:
        """Parse the stored form."""
        return cls(state.rev, parse_cid_bytes(state.commit_cid), parse_cid_bytes(state.data_cid))


@dataclass(slots=True)
class Account:
    """One account as the relay tracks it."""

    uid: int
    did: str
    host_id: int
    status: str
    upstream_status: str
    repo: RepoHead | None

    @property
    def active(self) -> bool:
        """Active both locally and upstream."""
        return account_is_active(self.status, self.upstream_status)

    @property
    def public_status(self) -> str | None:
        """The ``status`` shown to consumers (None when active)."""
        return public_account_status(self.status, self.upstream_status)

    @property
    def effective_status(self) -> str:
        """``active`` or the public status."""
        return self.public_status or AccountStatus.ACTIVE.value


def account_from_row(row: AccountRow) -> Account:
    """An account as stored."""
    repo = RepoHead.from_state(row.repo) if row.repo is not None else None
    return Account(row.uid, row.did, row.host_id, row.status, row.upstream_status, repo)


class AccountDirectory:
    """Cached access to the relay's accounts."""

    def __init__(self, db: Database, *, max_cached: int = MAX_CACHED) -> None:
        self.db = db
        self.store = RelayAccountStore()
        self.hosts = HostStore()
        self.max_cached = max_cached
        self._cache: OrderedDict[str, Account] = OrderedDict()
        self._dirty: dict[str, tuple[int, RepoHead]] = {}
        self._taken: dict[str, tuple[int, RepoHead]] = {}
        self._logged: dict[str, tuple[int, RepoHead]] = {}
        self._saving: dict[str, tuple[int, RepoHead]] = {}

    def _remember(self, account: Account) -> Account:
        self._cache[account.did] = account
        self._cache.move_to_end(account.did)
        while len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return account

    def cached(self, did: str) -> Account | None:
        """The account if it is in memory (no I/O)."""
        return self._cache.get(did)

    async def get(self, did: str) -> Account | None:
        """The account ``did`` (None if the relay has never accepted it)."""
        account = self._cache.get(did)
        if account is not None:
            return account
        async with self.db.read() as conn:
            row = await self.store.get(conn, did)
        if row is None:
            return None
        account = account_from_row(row)
        pending = self.pending_head(did)
        if pending is not None:
            account.repo = pending
        return self._remember(account)

    async def require(self, did: str) -> Account:
        """The account ``did``, or :class:`AccountNotFoundError`."""
        account = await self.get(did)
        if account is None:
            raise AccountNotFoundError(did)
        return account

    async def create(self, did: str, host_id: int) -> Account:
        """Add an account on ``host_id`` (``host-throttled`` when the host is at its limit)."""
        async with self.db.write() as conn:
            host = await self.hosts.get_by_id(conn, host_id)
            full = host is not None and host.account_count >= host.account_limit
            status = AccountStatus.HOST_THROTTLED if full else AccountStatus.ACTIVE
            existing = await self.store.get(conn, did)
            row = await self.store.insert(conn, did, host_id, status, AccountStatus.ACTIVE)
            if existing is None:
                await self.hosts.add_accounts(conn, host_id, 1)
        return self._remember(account_from_row(row))

    async def move(self, account: Account, host_id: int) -> None:
        """Record that ``account`` now lives on ``host_id``."""
        async with self.db.write() as conn:
            await self.hosts.add_accounts(conn, account.host_id, -1)
            await self.hosts.add_accounts(conn, host_id, 1)
            await self.store.set_host(conn, account.uid, host_id)
        account.host_id = host_id

    async def set_status(self, account: Account, status: str) -> None:
        """Change the relay's own status of ``account``."""
        async with self.db.write() as conn:
            await self.store.set_status(conn, account.uid, status)
        account.status = status

    async def set_upstream_status(self, account: Account, status: str) -> None:
        """Record the status ``account``'s PDS reported."""
        async with self.db.write() as conn:
            await self.store.set_upstream_status(conn, account.uid, status)
        account.upstream_status = status

    def record_repo(self, account: Account, head: RepoHead) -> None:
        """Accept a new commit of ``account`` (persisted at the next checkpoint)."""
        account.repo = head
        self._dirty[account.did] = (account.uid, head)

    def take_dirty(self) -> dict[str, tuple[int, RepoHead]]:
        """The heads accepted since the last call (their events are about to be logged)."""
        dirty, self._dirty = self._dirty, {}
        self._taken = dirty
        return dirty

    def mark_logged(self, taken: dict[str, tuple[int, RepoHead]]) -> None:
        """The events of ``taken`` are in the log: their heads await the next checkpoint."""
        self._logged.update(taken)
        self._taken = {}

    def restore_dirty(self, taken: dict[str, tuple[int, RepoHead]]) -> None:
        """The events of ``taken`` did not reach the log: keep the heads dirty (newer ones
        recorded since win)."""
        for did, item in taken.items():
            self._dirty.setdefault(did, item)
        self._taken = {}

    def take_logged(self) -> dict[str, tuple[int, RepoHead]]:
        """Heads whose events are logged, for a checkpoint."""
        logged, self._logged = self._logged, {}
        self._saving = logged
        return logged

    def saved(self, ok: bool) -> None:
        """The checkpoint of :meth:`take_logged` succeeded (or not: keep its heads)."""
        if not ok:
            self._logged = {**self._saving, **self._logged}
        self._saving = {}

    def pending_head(self, did: str) -> RepoHead | None:
        """The newest head of ``did`` not yet saved, if any."""
        for stage in (self._dirty, self._taken, self._logged, self._saving):
            item = stage.get(did)
            if item is not None:
                return item[1]
        return None

    def forget(self, did: str) -> None:
        """Drop ``did`` from the cache (its row changed elsewhere)."""
        self._cache.pop(did, None)
