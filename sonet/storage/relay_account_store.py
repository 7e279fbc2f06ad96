"""Relay accounts: which host each account is on, its statuses and its latest verified commit.

``status`` is the relay's own (``active``, ``takendown`` by an admin, ``host-throttled``);
``upstream_status`` is what the account's PDS reported. ``rev``, ``commit_cid`` and ``data_cid``
(CIDs in binary form) describe the last accepted ``#commit`` or ``#sync`` (the next commit's
``prevData`` is ``data_cid``); they are null until the first one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.raw_sqlite import run_on_sqlite
from sonet.storage.upsert import insert_ignore

__all__ = ["TABLES", "AccountRow", "RelayAccountStore", "RepoState", "relay_account"]

meta = MetaData()
_ID = BigInteger().with_variant(Integer, "sqlite")

relay_account = Table(
    "relay_account",
    meta,
    Column("uid", _ID, primary_key=True, autoincrement=True),
    Column("did", String(2048), nullable=False, unique=True),
    Column("host_id", BigInteger, nullable=False),
    Column("status", String(32), nullable=False, server_default="active"),
    Column("upstream_status", String(32), nullable=False, server_default="active"),
    Column("rev", String(32), nullable=True),
    Column("commit_cid", LargeBinary, nullable=True),
    Column("data_cid", LargeBinary, nullable=True),
    Index("relay_account_host", "host_id", "status"),
)

TABLES = (relay_account,)


@dataclass(frozen=True, slots=True)
class RepoState:
    """The last accepted commit of an account (CIDs in their binary form)."""

    rev: str
    commit_cid: bytes
    data_cid: bytes


@dataclass(frozen=True, slots=True)
class AccountRow:
    """One account as stored."""

    uid: int
    did: str
    host_id: int
    status: str
    upstream_status: str
    repo: RepoState | None


def _row(r: Any) -> AccountRow:
    repo = None
    if r.rev is not None and r.commit_cid is not None and r.data_cid is not None:
        repo = RepoState(r.rev, bytes(r.commit_cid), bytes(r.data_cid))
    return AccountRow(int(r.uid), r.did, int(r.host_id), r.status, r.upstream_status, repo)


class RelayAccountStore:
    """SQL for relay accounts."""

    async def get(self, conn: AsyncConnection, did: str) -> AccountRow | None:
        """The account ``did``."""
        row = (await conn.execute(select(relay_account).where(relay_account.c.did == did))).first()
        return None if row is None else _row(row)

    async def insert(
        self, conn: AsyncConnection, did: str, host_id: int, status: str, upstream_status: str
    ) -> AccountRow:
        """Add an account (or return the existing one)."""
        await insert_ignore(
            conn,
            relay_account,
            [
                {
                    "did": did,
                    "host_id": host_id,
                    "status": status,
                    "upstream_status": upstream_status,
                }
            ],
        )
        found = await self.get(conn, did)
        assert found is not None
        return found

    async def set_status(self, conn: AsyncConnection, uid: int, status: str) -> None:
        """Change the relay's own status of an account."""
        await conn.execute(
            update(relay_account).where(relay_account.c.uid == uid).values(status=status)
        )

    async def set_upstream_status(self, conn: AsyncConnection, uid: int, status: str) -> None:
        """Record the status the account's PDS reported."""
        await conn.execute(
            update(relay_account).where(relay_account.c.uid == uid).values(upstream_status=status)
        )

    async def set_host(self, conn: AsyncConnection, uid: int, host_id: int) -> None:
        """Move an account to another host."""
        await conn.execute(
            update(relay_account).where(relay_account.c.uid == uid).values(host_id=host_id)
        )

    async def save_repos(
        self, conn: AsyncConnection, repos: Sequence[tuple[int, RepoState]]
    ) -> None:
        """Record the latest accepted commit of each ``(uid, state)``."""
        if not repos:
            return
        if conn.dialect.name == "sqlite":
            rows = [(s.rev, s.commit_cid, s.data_cid, uid) for uid, s in repos]
            await run_on_sqlite(
                conn,
                lambda sq: sq.executemany(
                    "UPDATE relay_account SET rev = ?, commit_cid = ?, data_cid = ? WHERE uid = ?",
                    rows,
                ),
            )
            return
        await conn.execute(
            update(relay_account)
            .where(relay_account.c.uid == bindparam("b_uid"))
            .values(
                rev=bindparam("b_rev"),
                commit_cid=bindparam("b_commit"),
                data_cid=bindparam("b_data"),
            ),
            [
                {"b_uid": uid, "b_rev": s.rev, "b_commit": s.commit_cid, "b_data": s.data_cid}
                for uid, s in repos
            ],
        )

    async def list_with_repo(
        self, conn: AsyncConnection, after_uid: int, limit: int
    ) -> list[AccountRow]:
        """Accounts with a known commit, by uid (for ``listRepos``)."""
        rows = await conn.execute(
            select(relay_account)
            .where(relay_account.c.uid > after_uid, relay_account.c.rev.is_not(None))
            .order_by(relay_account.c.uid)
            .limit(limit)
        )
        return [_row(r) for r in rows]

    async def list_by_status(
        self,
        conn: AsyncConnection,
        status: str,
        *,
        after_uid: int = 0,
        limit: int = 500,
        host_id: int | None = None,
    ) -> list[AccountRow]:
        """Accounts whose local status is ``status`` (optionally on one host), by uid."""
        query = select(relay_account).where(
            relay_account.c.uid > after_uid, relay_account.c.status == status
        )
        if host_id is not None:
            query = query.where(relay_account.c.host_id == host_id)
        rows = await conn.execute(query.order_by(relay_account.c.uid).limit(limit))
        return [_row(r) for r in rows]
