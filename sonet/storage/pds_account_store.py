"""PDS accounts: identity, credentials, signing keys and hosting status.

Migration step 1 creates every table of the accounts area: the account rows here, sessions and
app passwords (:mod:`sonet.storage.pds_session_store`), email tokens
(:mod:`sonet.storage.pds_email_token_store`), invite codes (:mod:`sonet.storage.pds_invite_store`)
and server secrets (:mod:`sonet.storage.pds_secret_store`).
"""

from __future__ import annotations

from collections.abc import Sequence
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
    delete,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage import (
    pds_email_token_store,
    pds_invite_store,
    pds_secret_store,
    pds_session_store,
)
from sonet.storage.dataclass_rows import from_row, insert_values
from sonet.storage.migrations import Migration, add_missing_column

__all__ = ["MIGRATIONS", "AccountRow", "AccountStore", "account", "status_of"]

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
    Column("invites_disabled", Boolean, nullable=False, server_default="0"),
    Column("email_auth_factor", Boolean, nullable=False, server_default="0"),
    Index("account_handle", "handle", unique=True),
)
Index("account_email_lower", func.lower(account.c.email), unique=True)


MIGRATIONS = [
    Migration(
        1,
        "accounts, sessions, app passwords, email tokens, invite codes, server secrets",
        tables=[
            account,
            *pds_session_store.TABLES,
            *pds_email_token_store.TABLES,
            *pds_invite_store.TABLES,
            *pds_secret_store.TABLES,
        ],
    ),
    Migration(
        2,
        "email sign-in codes (emailAuthFactor)",
        run=add_missing_column("account", "email_auth_factor", "BOOLEAN NOT NULL DEFAULT false"),
    ),
]


@dataclass(frozen=True, slots=True)
class AccountRow:
    """One hosted account. ``status`` is ``active``, ``deactivated``, ``takendown``,
    ``suspended`` or ``deleted`` (https://atproto.com/specs/account#hosting-status).
    Times are microseconds since the epoch. ``email_auth_factor``: sign-in with the account
    password also needs a code mailed to the (confirmed) address."""

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
    delete_after: int | None = None
    invites_disabled: bool = False
    email_auth_factor: bool = False

    @property
    def active(self) -> bool:
        """Neither taken down nor deactivated."""
        return self.status == "active"


def status_of(takedown_ref: str | None, deactivated_at: int | None) -> str:
    """The hosting status implied by a takedown reference and a deactivation time."""
    if takedown_ref:
        return "takendown"
    if deactivated_at is not None:
        return "deactivated"
    return "active"


class AccountStore:
    """SQL for accounts."""

    async def insert(self, conn: AsyncConnection, row: AccountRow) -> None:
        """Add a new account (handle, email and DID must be unused)."""
        await conn.execute(account.insert().values(**insert_values(row)))

    async def by_did(self, conn: AsyncConnection, did: str) -> AccountRow | None:
        """The account with this DID."""
        row = (await conn.execute(select(account).where(account.c.did == did))).first()
        return None if row is None else from_row(AccountRow, row)

    async def by_dids(self, conn: AsyncConnection, dids: Sequence[str]) -> list[AccountRow]:
        """The accounts among ``dids`` (in DID order)."""
        if not dids:
            return []
        q = select(account).where(account.c.did.in_(list(dids))).order_by(account.c.did)
        return [from_row(AccountRow, r) for r in (await conn.execute(q)).all()]

    async def by_handle(self, conn: AsyncConnection, handle: str) -> AccountRow | None:
        """The account with this (normalised, lower-case) handle."""
        row = (await conn.execute(select(account).where(account.c.handle == handle))).first()
        return None if row is None else from_row(AccountRow, row)

    async def by_email(self, conn: AsyncConnection, email: str) -> AccountRow | None:
        """The account with this email address (case-insensitive)."""
        row = (
            await conn.execute(select(account).where(func.lower(account.c.email) == email.lower()))
        ).first()
        return None if row is None else from_row(AccountRow, row)

    async def set_fields(self, conn: AsyncConnection, did: str, **values: object) -> bool:
        """Update columns of one account; False if there is no such account."""
        result = await conn.execute(update(account).where(account.c.did == did).values(**values))
        return result.rowcount == 1

    async def set_status(
        self,
        conn: AsyncConnection,
        did: str,
        *,
        takedown_ref: str | None,
        deactivated_at: int | None,
        delete_after: int | None,
    ) -> bool:
        """Set the takedown and deactivation state, keeping ``status`` consistent with them."""
        return await self.set_fields(
            conn,
            did,
            takedown_ref=takedown_ref,
            deactivated_at=deactivated_at,
            delete_after=delete_after,
            status=status_of(takedown_ref, deactivated_at),
        )

    async def delete(self, conn: AsyncConnection, did: str) -> bool:
        """Remove the account row; False if there was none."""
        result = await conn.execute(delete(account).where(account.c.did == did))
        return result.rowcount == 1

    async def list_dids(
        self, conn: AsyncConnection, after: str | None, limit: int
    ) -> list[AccountRow]:
        """Accounts ordered by DID after a cursor."""
        q = select(account).order_by(account.c.did).limit(limit)
        if after:
            q = q.where(account.c.did > after)
        return [from_row(AccountRow, r) for r in (await conn.execute(q)).all()]

    async def search_email(
        self, conn: AsyncConnection, email_prefix: str, after: str | None, limit: int
    ) -> list[AccountRow]:
        """Accounts whose email starts with ``email_prefix`` (case-insensitive), by DID."""
        escaped = email_prefix.lower().replace("\\", "\\\\").replace("%", "\\%")
        escaped = escaped.replace("_", "\\_")
        q = (
            select(account)
            .where(func.lower(account.c.email).like(escaped + "%", escape="\\"))
            .order_by(account.c.did)
            .limit(limit)
        )
        if after:
            q = q.where(account.c.did > after)
        return [from_row(AccountRow, r) for r in (await conn.execute(q)).all()]
