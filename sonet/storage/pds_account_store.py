"""PDS accounts: identity, credentials, signing keys and hosting status."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    MetaData,
    String,
    Table,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.migrations import Migration

__all__ = ["MIGRATIONS", "AccountRow", "AccountStore", "account"]

meta = MetaData()

account = Table(
    "account",
    meta,
    Column("did", String(2048), primary_key=True),
    Column("handle", String(253), nullable=False),
    Column("email", String(320), nullable=True),
    Column("password_hash", Text, nullable=True),
    Column("signing_key", Text, nullable=False),
    Column("status", String(32), nullable=False, server_default="active"),
    Column("created_at", BigInteger, nullable=False),
    Column("email_confirmed_at", BigInteger, nullable=True),
    Column("deactivated_at", BigInteger, nullable=True),
    Column("delete_after", BigInteger, nullable=True),
    Column("takedown_ref", String(512), nullable=True),
    Index("account_handle", "handle", unique=True),
)
Index("account_email_lower", func.lower(account.c.email), unique=True)

MIGRATIONS = [Migration(1, "accounts", tables=[account])]


@dataclass(frozen=True, slots=True)
class AccountRow:
    """One hosted account. ``status`` is ``active``, ``deactivated``, ``takendown``,
    ``suspended`` or ``deleted`` (https://atproto.com/specs/account#hosting-status)."""

    did: str
    handle: str
    email: str | None
    password_hash: str | None
    signing_key: str
    status: str
    created_at: int
    email_confirmed_at: int | None
    deactivated_at: int | None
    takedown_ref: str | None


def _row(r: object) -> AccountRow:
    return AccountRow(
        r.did,  # type: ignore[attr-defined]
        r.handle,  # type: ignore[attr-defined]
        r.email,  # type: ignore[attr-defined]
        r.password_hash,  # type: ignore[attr-defined]
        r.signing_key,  # type: ignore[attr-defined]
        r.status,  # type: ignore[attr-defined]
        r.created_at,  # type: ignore[attr-defined]
        r.email_confirmed_at,  # type: ignore[attr-defined]
        r.deactivated_at,  # type: ignore[attr-defined]
        r.takedown_ref,  # type: ignore[attr-defined]
    )


class AccountStore:
    """SQL for accounts."""

    async def insert(self, conn: AsyncConnection, row: AccountRow) -> None:
        """Add a new account (handle, email and DID must be unused)."""
        await conn.execute(
            account.insert().values(
                did=row.did,
                handle=row.handle,
                email=row.email,
                password_hash=row.password_hash,
                signing_key=row.signing_key,
                status=row.status,
                created_at=row.created_at,
                email_confirmed_at=row.email_confirmed_at,
                deactivated_at=row.deactivated_at,
                takedown_ref=row.takedown_ref,
            )
        )

    async def by_did(self, conn: AsyncConnection, did: str) -> AccountRow | None:
        """The account with this DID."""
        row = (await conn.execute(select(account).where(account.c.did == did))).first()
        return None if row is None else _row(row)

    async def by_handle(self, conn: AsyncConnection, handle: str) -> AccountRow | None:
        """The account with this (normalised, lower-case) handle."""
        row = (await conn.execute(select(account).where(account.c.handle == handle))).first()
        return None if row is None else _row(row)

    async def by_email(self, conn: AsyncConnection, email: str) -> AccountRow | None:
        """The account with this email address (case-insensitive)."""
        row = (
            await conn.execute(select(account).where(func.lower(account.c.email) == email.lower()))
        ).first()
        return None if row is None else _row(row)

    async def set_fields(self, conn: AsyncConnection, did: str, **values: object) -> bool:
        """Update columns of one account; False if there is no such account."""
        result = await conn.execute(update(account).where(account.c.did == did).values(**values))
        return result.rowcount == 1

    async def list_dids(
        self, conn: AsyncConnection, after: str | None, limit: int
    ) -> list[AccountRow]:
        """Accounts ordered by DID after a cursor."""
        q = select(account).order_by(account.c.did).limit(limit)
        if after:
            q = q.where(account.c.did > after)
        return [_row(r) for r in (await conn.execute(q)).all()]
