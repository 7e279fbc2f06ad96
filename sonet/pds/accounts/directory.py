"""Looking up hosted accounts and their signing keys (used by every PDS area)."""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.crypto import Keypair
from sonet.crypto.keypairs import import_private_multibase
from sonet.pds.errors import RepoNotFoundError
from sonet.storage.database import Database
from sonet.storage.pds_account_store import AccountRow, AccountStore, status_of

__all__ = ["AccountDirectory"]


ROW_TTL = 2.0
"""Seconds a cached account row is trusted (a bound on staleness from other processes)."""
MAX_CACHED_ROWS = 100_000


class _InvalidatingStore(AccountStore):
    """The account SQL, dropping cached rows of accounts it changes."""

    def __init__(self, rows: dict[str, tuple[AccountRow | None, float]]) -> None:
        self._rows = rows

    async def insert(self, conn: AsyncConnection, row: AccountRow) -> None:
        self._rows.pop(row.did, None)
        await super().insert(conn, row)

    async def set_fields(self, conn: AsyncConnection, did: str, **values: object) -> bool:
        self._rows.pop(did, None)
        try:
            return await super().set_fields(conn, did, **values)
        finally:
            self._rows.pop(did, None)

    async def delete(self, conn: AsyncConnection, did: str) -> bool:
        self._rows.pop(did, None)
        try:
            return await super().delete(conn, did)
        finally:
            self._rows.pop(did, None)


class AccountDirectory:
    """Reads accounts; caches signing keys (they change only on key rotation)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._rows: dict[str, tuple[AccountRow | None, float]] = {}
        self.store = _InvalidatingStore(self._rows)
        self._keys: dict[str, Keypair] = {}

    async def get(self, did: str) -> AccountRow | None:
        """The account hosted here for ``did`` (rows are cached for :data:`ROW_TTL` seconds and
        dropped whenever this process changes them)."""
        cached = self._rows.get(did)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self.db.read() as conn:
            row = await self.store.by_did(conn, did)
        self._rows[did] = (row, now + ROW_TTL)
        if len(self._rows) > MAX_CACHED_ROWS:
            self._rows.clear()
        return row

    async def lookup(self, handle_or_did: str) -> AccountRow | None:
        """The account named by a DID or a handle."""
        if handle_or_did.startswith("did:"):
            return await self.get(handle_or_did)
        async with self.db.read() as conn:
            return await self.store.by_handle(conn, handle_or_did.lower())

    async def signing_key(self, did: str) -> Keypair:
        """The repo signing key of a hosted account."""
        key = self._keys.get(did)
        if key is None:
            row = await self.get(did)
            if row is None:
                raise RepoNotFoundError(f"Could not find repo for DID: {did}")
            key = self._keys[did] = import_private_multibase(row.signing_key)
        return key

    def forget_key(self, did: str) -> None:
        """Drop a cached key (after rotation)."""
        self._keys.pop(did, None)

    @staticmethod
    def new_row(
        did: str,
        handle: str,
        key: Keypair,
        email: str | None = None,
        password_hash: str | None = None,
        *,
        deactivated_at: int | None = None,
        delete_after: int | None = None,
    ) -> AccountRow:
        """A fresh account row: active, or deactivated from ``deactivated_at`` (an imported
        account waiting for its migration to finish)."""
        return AccountRow(
            did=did,
            handle=handle.lower(),
            email=email,
            password_hash=password_hash,
            signing_key=key.export_private_multibase(),
            status=status_of(None, deactivated_at),
            created_at=time.time_ns() // 1000,
            email_confirmed_at=None,
            deactivated_at=deactivated_at,
            takedown_ref=None,
            delete_after=delete_after,
        )
