"""PDS sessions: refresh tokens (by ``jti``, so they can be revoked) and app passwords.

https://atproto.com/specs/xrpc#authentication: refresh tokens rotate; the rotated-out one stays
valid for a short grace period and then always yields the same successor (``next_id``).
Times are microseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.dataclass_rows import from_row, insert_values
from sonet.storage.upsert import insert_ignore

__all__ = ["TABLES", "AppPasswordRow", "RefreshTokenRow", "SessionStore"]

meta = MetaData()

refresh_token = Table(
    "refresh_token",
    meta,
    Column("id", String(128), primary_key=True),
    Column("did", String(2048), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("app_password_name", String(256), nullable=True),
    Column("next_id", String(128), nullable=True),
    Index("refresh_token_did", "did"),
)

app_password = Table(
    "app_password",
    meta,
    Column("did", String(2048), primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("privileged", Boolean, nullable=False),
)

TABLES = (refresh_token, app_password)


@dataclass(frozen=True, slots=True)
class AppPasswordRow:
    """A named app password of an account (the hash, never the password)."""

    did: str
    name: str
    password_hash: str
    created_at: int
    privileged: bool


@dataclass(frozen=True, slots=True)
class RefreshTokenRow:
    """A live refresh token and, when made with one, its app password's name and privilege."""

    id: str
    did: str
    expires_at: int
    app_password_name: str | None
    next_id: str | None
    privileged: bool


class SessionStore:
    """SQL for refresh tokens and app passwords."""

    # refresh tokens

    async def add_refresh(
        self,
        conn: AsyncConnection,
        token_id: str,
        did: str,
        expires_at: int,
        app_password_name: str | None,
    ) -> None:
        """Remember a refresh token (a repeat of a known id is ignored)."""
        row = {
            "id": token_id,
            "did": did,
            "expires_at": expires_at,
            "app_password_name": app_password_name,
            "next_id": None,
        }
        await insert_ignore(conn, refresh_token, [row])

    async def get_refresh(self, conn: AsyncConnection, token_id: str) -> RefreshTokenRow | None:
        """A stored refresh token, joined with its app password's privilege."""
        q = (
            select(refresh_token, app_password.c.privileged)
            .select_from(
                refresh_token.outerjoin(
                    app_password,
                    and_(
                        app_password.c.did == refresh_token.c.did,
                        app_password.c.name == refresh_token.c.app_password_name,
                    ),
                )
            )
            .where(refresh_token.c.id == token_id)
        )
        r = (await conn.execute(q)).first()
        if r is None:
            return None
        return RefreshTokenRow(
            r.id, r.did, r.expires_at, r.app_password_name, r.next_id, bool(r.privileged)
        )

    async def set_grace(
        self, conn: AsyncConnection, token_id: str, expires_at: int, next_id: str
    ) -> bool:
        """Shorten a rotated token's life and name its successor; False if another rotation
        already named a different successor."""
        result = await conn.execute(
            update(refresh_token)
            .where(
                refresh_token.c.id == token_id,
                or_(refresh_token.c.next_id.is_(None), refresh_token.c.next_id == next_id),
            )
            .values(expires_at=expires_at, next_id=next_id)
        )
        return result.rowcount == 1

    async def delete_expired(self, conn: AsyncConnection, did: str, now: int) -> None:
        """Drop the account's refresh tokens that expired by ``now``."""
        await conn.execute(
            delete(refresh_token).where(
                refresh_token.c.did == did, refresh_token.c.expires_at <= now
            )
        )

    async def revoke(self, conn: AsyncConnection, token_id: str) -> bool:
        """Forget one refresh token; False if it was unknown."""
        result = await conn.execute(delete(refresh_token).where(refresh_token.c.id == token_id))
        return result.rowcount > 0

    async def revoke_all(self, conn: AsyncConnection, did: str) -> None:
        """Forget every refresh token of an account."""
        await conn.execute(delete(refresh_token).where(refresh_token.c.did == did))

    async def revoke_for_app_password(self, conn: AsyncConnection, did: str, name: str) -> None:
        """Forget the refresh tokens of sessions made with one app password."""
        await conn.execute(
            delete(refresh_token).where(
                refresh_token.c.did == did, refresh_token.c.app_password_name == name
            )
        )

    # app passwords

    async def add_app_password(self, conn: AsyncConnection, row: AppPasswordRow) -> bool:
        """Store a new app password; False if the account already has one of that name."""
        exists = await conn.scalar(
            select(app_password.c.name).where(
                app_password.c.did == row.did, app_password.c.name == row.name
            )
        )
        if exists is not None:
            return False
        await conn.execute(app_password.insert().values(**insert_values(row)))
        return True

    async def find_app_password(
        self, conn: AsyncConnection, did: str, password_hash: str
    ) -> AppPasswordRow | None:
        """The account's app password with this (deterministic) hash."""
        q = select(app_password).where(
            app_password.c.did == did, app_password.c.password_hash == password_hash
        )
        r = (await conn.execute(q)).first()
        return None if r is None else from_row(AppPasswordRow, r)

    async def list_app_passwords(self, conn: AsyncConnection, did: str) -> list[AppPasswordRow]:
        """The account's app passwords, newest first."""
        q = (
            select(app_password)
            .where(app_password.c.did == did)
            .order_by(app_password.c.created_at.desc())
        )
        return [from_row(AppPasswordRow, r) for r in (await conn.execute(q)).all()]

    async def delete_app_password(self, conn: AsyncConnection, did: str, name: str) -> None:
        """Remove one app password."""
        await conn.execute(
            delete(app_password).where(app_password.c.did == did, app_password.c.name == name)
        )

    async def delete_account(self, conn: AsyncConnection, did: str) -> None:
        """Remove every session and app password of an account."""
        await self.revoke_all(conn, did)
        await conn.execute(delete(app_password).where(app_password.c.did == did))
