"""Legacy (password) sessions: access/refresh JWT pairs whose refresh tokens are kept server-side.

https://atproto.com/specs/xrpc#authentication. As in the reference PDS, refreshing rotates the
refresh token: the old one stays usable for a grace period of at most two hours and always yields
the same successor id, so a client retrying a lost response gets a working session back. Revoked
tokens (deleteSession, password change, takedown) are forgotten and can no longer refresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.pds.accounts.times import SECOND_US, now_us
from sonet.storage.database import Database
from sonet.storage.pds_session_store import SessionStore
from sonet.xrpc.tokens import AuthScope, SessionTokens, new_token_id

__all__ = ["REFRESH_GRACE_US", "AppPassword", "SessionPair", "Sessions", "scope_for"]

REFRESH_GRACE_US: Final = 2 * 3600 * SECOND_US


@dataclass(frozen=True, slots=True)
class AppPassword:
    """The app password a session was opened with."""

    name: str
    privileged: bool


@dataclass(frozen=True, slots=True)
class SessionPair:
    """A fresh access token and refresh token."""

    access_jwt: str
    refresh_jwt: str


def scope_for(app_password: AppPassword | None, takendown: bool = False) -> AuthScope:
    """The access scope of a session: full, app password (privileged or not), or takendown."""
    if takendown:
        return AuthScope.TAKENDOWN
    if app_password is None:
        return AuthScope.ACCESS
    return AuthScope.APP_PASS_PRIVILEGED if app_password.privileged else AuthScope.APP_PASS


class Sessions:
    """Opens, rotates and revokes sessions."""

    def __init__(self, db: Database, tokens: SessionTokens) -> None:
        self.db = db
        self.tokens = tokens
        self.store = SessionStore()

    async def open_in(
        self,
        conn: AsyncConnection,
        did: str,
        app_password: AppPassword | None = None,
        *,
        takendown: bool = False,
        token_id: str | None = None,
    ) -> SessionPair:
        """Issue tokens and remember the refresh token in ``conn``'s transaction.

        A takendown session's refresh token is not stored, so it can never be refreshed.
        """
        access = self.tokens.create_access(did, scope_for(app_password, takendown))
        refresh = self.tokens.create_refresh(did, token_id or new_token_id())
        if not takendown:
            claims = self.tokens.verify_refresh(refresh)
            assert claims.token_id is not None
            name = None if app_password is None else app_password.name
            expires = claims.expires_at * SECOND_US
            await self.store.add_refresh(conn, claims.token_id, did, expires, name)
        return SessionPair(access, refresh)

    async def open(
        self, did: str, app_password: AppPassword | None = None, *, takendown: bool = False
    ) -> SessionPair:
        """Issue a new session (its own transaction)."""
        async with self.db.write() as conn:
            return await self.open_in(conn, did, app_password, takendown=takendown)

    async def rotate(self, token_id: str) -> SessionPair | None:
        """Trade a live refresh token for a new session; ``None`` if it was revoked or its
        grace period is over."""
        while True:
            async with self.db.write() as conn:
                row = await self.store.get_refresh(conn, token_id)
                if row is None:
                    return None
                now = now_us()
                await self.store.delete_expired(conn, row.did, now)
                expires_at = min(now + REFRESH_GRACE_US, row.expires_at)
                if expires_at <= now:
                    return None
                next_id = row.next_id or new_token_id()
                if not await self.store.set_grace(conn, token_id, expires_at, next_id):
                    continue  # a concurrent refresh named another successor: start again
                app_password = (
                    AppPassword(row.app_password_name, row.privileged)
                    if row.app_password_name is not None
                    else None
                )
                return await self.open_in(conn, row.did, app_password, token_id=next_id)

    async def revoke(self, token_id: str) -> bool:
        """Forget one refresh token."""
        async with self.db.write() as conn:
            return await self.store.revoke(conn, token_id)

    async def revoke_all(self, conn: AsyncConnection, did: str) -> None:
        """Forget every refresh token of ``did`` in ``conn``'s transaction."""
        await self.store.revoke_all(conn, did)
