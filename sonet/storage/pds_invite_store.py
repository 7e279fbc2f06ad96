"""Invite codes and their uses.

A code has a number of uses, belongs to an account (or ``admin``) and may be disabled; each
account created with it is one use. Times are microseconds since the epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.dataclass_rows import from_row, insert_values

__all__ = ["TABLES", "InviteCodeRow", "InviteStore", "InviteUseRow"]

meta = MetaData()

invite_code = Table(
    "invite_code",
    meta,
    Column("code", String(128), primary_key=True),
    Column("available_uses", Integer, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("for_account", String(2048), nullable=False),
    Column("created_by", String(2048), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("invite_code_for_account", "for_account"),
)

invite_code_use = Table(
    "invite_code_use",
    meta,
    Column("code", String(128), primary_key=True),
    Column("used_by", String(2048), primary_key=True),
    Column("used_at", BigInteger, nullable=False),
    Index("invite_code_use_used_by", "used_by"),
)

TABLES = (invite_code, invite_code_use)

InviteSort = Literal["recent", "usage"]


@dataclass(frozen=True, slots=True)
class InviteCodeRow:
    """A code with the number of times it has been used."""

    code: str
    available_uses: int
    disabled: bool
    for_account: str
    created_by: str
    created_at: int
    use_count: int


@dataclass(frozen=True, slots=True)
class InviteUseRow:
    """One account created with a code."""

    code: str
    used_by: str
    used_at: int


_uses = (
    select(func.count())
    .select_from(invite_code_use)
    .where(invite_code_use.c.code == invite_code.c.code)
    .correlate(invite_code)
    .scalar_subquery()
    .label("use_count")
)


class InviteStore:
    """SQL for invite codes."""

    async def insert(self, conn: AsyncConnection, rows: Sequence[InviteCodeRow]) -> None:
        """Add new codes."""
        if rows:
            await conn.execute(
                invite_code.insert(),
                [insert_values(r, without={"use_count"}) for r in rows],
            )

    async def get(self, conn: AsyncConnection, code: str) -> InviteCodeRow | None:
        """One code with its use count."""
        r = (
            await conn.execute(select(invite_code, _uses).where(invite_code.c.code == code))
        ).first()
        return None if r is None else from_row(InviteCodeRow, r)

    async def for_accounts(
        self, conn: AsyncConnection, accounts: Sequence[str]
    ) -> list[InviteCodeRow]:
        """The codes belonging to ``accounts``."""
        if not accounts:
            return []
        q = (
            select(invite_code, _uses)
            .where(invite_code.c.for_account.in_(list(accounts)))
            .order_by(invite_code.c.created_at, invite_code.c.code)
        )
        return [from_row(InviteCodeRow, r) for r in (await conn.execute(q)).all()]

    async def by_codes(self, conn: AsyncConnection, codes: Sequence[str]) -> list[InviteCodeRow]:
        """The codes named."""
        if not codes:
            return []
        q = select(invite_code, _uses).where(invite_code.c.code.in_(list(codes)))
        return [from_row(InviteCodeRow, r) for r in (await conn.execute(q)).all()]

    async def record_use(self, conn: AsyncConnection, code: str, did: str, now: int) -> None:
        """Count one use of ``code`` by the new account ``did``."""
        await conn.execute(invite_code_use.insert().values(code=code, used_by=did, used_at=now))

    async def uses(self, conn: AsyncConnection, codes: Sequence[str]) -> list[InviteUseRow]:
        """The uses of ``codes``, newest first."""
        if not codes:
            return []
        q = (
            select(invite_code_use)
            .where(invite_code_use.c.code.in_(list(codes)))
            .order_by(invite_code_use.c.used_at.desc())
        )
        return [from_row(InviteUseRow, r) for r in (await conn.execute(q)).all()]

    async def codes_used_by(self, conn: AsyncConnection, dids: Sequence[str]) -> list[InviteUseRow]:
        """Which codes the accounts ``dids`` signed up with."""
        if not dids:
            return []
        q = select(invite_code_use).where(invite_code_use.c.used_by.in_(list(dids)))
        return [from_row(InviteUseRow, r) for r in (await conn.execute(q)).all()]

    async def disable(
        self, conn: AsyncConnection, codes: Sequence[str], accounts: Sequence[str]
    ) -> None:
        """Disable the codes named and every code of the accounts named."""
        if codes:
            await conn.execute(
                update(invite_code).where(invite_code.c.code.in_(list(codes))).values(disabled=True)
            )
        if accounts:
            await conn.execute(
                update(invite_code)
                .where(invite_code.c.for_account.in_(list(accounts)))
                .values(disabled=True)
            )

    async def page(
        self,
        conn: AsyncConnection,
        sort: InviteSort,
        limit: int,
        after: tuple[int, str] | None,
    ) -> list[InviteCodeRow]:
        """All codes, newest first (``recent``) or most used first (``usage``), after a
        ``(created_at or use count, code)`` keyset cursor."""
        inner = select(invite_code, _uses).subquery()
        primary = inner.c.created_at if sort == "recent" else inner.c.use_count
        q = select(inner).order_by(primary.desc(), inner.c.code.desc()).limit(limit)
        if after is not None:
            value, code = after
            q = q.where(or_(primary < value, and_(primary == value, inner.c.code < code)))
        return [from_row(InviteCodeRow, r) for r in (await conn.execute(q)).all()]
