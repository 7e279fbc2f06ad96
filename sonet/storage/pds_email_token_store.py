"""One-time email tokens (confirm email, update email, reset password, delete account).

Only a hash of each token is stored; one live token per account and purpose, replaced when a new
one is requested. ``requested_at`` is in microseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Index, MetaData, String, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.upsert import upsert

__all__ = ["TABLES", "EmailTokenRow", "EmailTokenStore"]

meta = MetaData()

email_token = Table(
    "email_token",
    meta,
    Column("purpose", String(32), primary_key=True),
    Column("did", String(2048), primary_key=True),
    Column("token_hash", String(64), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Index("email_token_purpose_hash", "purpose", "token_hash"),
)

TABLES = (email_token,)


@dataclass(frozen=True, slots=True)
class EmailTokenRow:
    """A live token's account and request time."""

    did: str
    requested_at: int


class EmailTokenStore:
    """SQL for email tokens."""

    async def put(
        self, conn: AsyncConnection, did: str, purpose: str, token_hash: str, now: int
    ) -> None:
        """Store (or replace) the account's token for ``purpose``."""
        row = {"purpose": purpose, "did": did, "token_hash": token_hash, "requested_at": now}
        await upsert(conn, email_token, [row], ("purpose", "did"), ("token_hash", "requested_at"))

    async def find(
        self, conn: AsyncConnection, purpose: str, token_hash: str, did: str | None = None
    ) -> EmailTokenRow | None:
        """The token with this hash (for ``did`` when given)."""
        q = select(email_token.c.did, email_token.c.requested_at).where(
            email_token.c.purpose == purpose, email_token.c.token_hash == token_hash
        )
        if did is not None:
            q = q.where(email_token.c.did == did)
        r = (await conn.execute(q)).first()
        return None if r is None else EmailTokenRow(r.did, r.requested_at)

    async def delete(self, conn: AsyncConnection, did: str, purpose: str | None = None) -> None:
        """Drop the account's token for ``purpose`` (all of its tokens without one)."""
        q = delete(email_token).where(email_token.c.did == did)
        if purpose is not None:
            q = q.where(email_token.c.purpose == purpose)
        await conn.execute(q)
