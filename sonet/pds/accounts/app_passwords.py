"""App passwords: named, revocable passwords for third-party clients.

https://atproto.com/specs/xrpc#authentication: sessions opened with one get the
``com.atproto.appPass`` scope (``com.atproto.appPassPrivileged`` when created privileged), which
keeps them away from account management.
"""

from __future__ import annotations

from sonet.pds.accounts.errors import AccountError
from sonet.pds.accounts.passwords import hash_app_password, new_app_password
from sonet.pds.accounts.sessions import AppPassword
from sonet.pds.accounts.times import now_us
from sonet.storage.database import Database
from sonet.storage.pds_session_store import AppPasswordRow, SessionStore

__all__ = ["AppPasswords", "CreatedAppPassword"]

CreatedAppPassword = tuple[AppPasswordRow, str]
"""The stored row and the password itself (shown to the user once)."""


class AppPasswords:
    """Creates, checks, lists and revokes app passwords."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.store = SessionStore()

    async def create(self, did: str, name: str, privileged: bool) -> CreatedAppPassword:
        """A new app password named ``name``; 400 if the account has one of that name."""
        password = new_app_password()
        row = AppPasswordRow(
            did, name, await hash_app_password(did, password), now_us(), privileged
        )
        async with self.db.write() as conn:
            if not await self.store.add_app_password(conn, row):
                raise AccountError("could not create app-specific password")
        return row, password

    async def verify(self, did: str, password: str) -> AppPassword | None:
        """The app password of ``did`` that ``password`` is, if any."""
        hashed = await hash_app_password(did, password)
        async with self.db.read() as conn:
            row = await self.store.find_app_password(conn, did, hashed)
        return None if row is None else AppPassword(row.name, row.privileged)

    async def list(self, did: str) -> list[AppPasswordRow]:
        """The account's app passwords, newest first."""
        async with self.db.read() as conn:
            return await self.store.list_app_passwords(conn, did)

    async def revoke(self, did: str, name: str) -> None:
        """Delete an app password and end the sessions opened with it."""
        async with self.db.write() as conn:
            await self.store.delete_app_password(conn, did, name)
            await self.store.revoke_for_app_password(conn, did, name)
