"""Relay upstream hosts and banned domains.

One row per host the relay has been asked to crawl: its normalised hostname, whether it is reached
without TLS, its account limit, whether it is trusted (larger quotas), its status, the last
upstream sequence number processed (the cursor to resume from; -1 when none) and how many
accounts it hosts.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.raw_sqlite import run_on_sqlite
from sonet.storage.upsert import insert_ignore

__all__ = ["TABLES", "HostRow", "HostStore", "domain_ban", "relay_host"]

meta = MetaData()
_ID = BigInteger().with_variant(Integer, "sqlite")

relay_host = Table(
    "relay_host",
    meta,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("hostname", String(300), nullable=False, unique=True),
    Column("no_ssl", Boolean, nullable=False, server_default="0"),
    Column("account_limit", BigInteger, nullable=False),
    Column("trusted", Boolean, nullable=False, server_default="0"),
    Column("status", String(32), nullable=False, server_default="active"),
    Column("last_seq", BigInteger, nullable=False, server_default="-1"),
    Column("account_count", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
)

domain_ban = Table(
    "relay_domain_ban",
    meta,
    Column("domain", String(300), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
)

TABLES = (relay_host, domain_ban)


@dataclass(frozen=True, slots=True)
class HostRow:
    """One upstream host; ``created_at`` in microseconds since the epoch."""

    id: int
    hostname: str
    no_ssl: bool
    account_limit: int
    trusted: bool
    status: str
    last_seq: int
    account_count: int
    created_at: int


def _row(r: Any) -> HostRow:
    return HostRow(
        id=int(r.id),
        hostname=r.hostname,
        no_ssl=bool(r.no_ssl),
        account_limit=int(r.account_limit),
        trusted=bool(r.trusted),
        status=r.status,
        last_seq=int(r.last_seq),
        account_count=int(r.account_count),
        created_at=int(r.created_at),
    )


def _now_us() -> int:
    return time.time_ns() // 1000


class HostStore:
    """SQL for hosts and domain bans."""

    async def get(self, conn: AsyncConnection, hostname: str) -> HostRow | None:
        """The host named ``hostname``."""
        row = (
            await conn.execute(select(relay_host).where(relay_host.c.hostname == hostname))
        ).first()
        return None if row is None else _row(row)

    async def get_by_id(self, conn: AsyncConnection, host_id: int) -> HostRow | None:
        """The host with id ``host_id``."""
        row = (await conn.execute(select(relay_host).where(relay_host.c.id == host_id))).first()
        return None if row is None else _row(row)

    async def insert(
        self,
        conn: AsyncConnection,
        *,
        hostname: str,
        no_ssl: bool,
        account_limit: int,
        trusted: bool,
        status: str,
    ) -> HostRow:
        """Add a host (or return the existing one of that name)."""
        await insert_ignore(
            conn,
            relay_host,
            [
                {
                    "hostname": hostname,
                    "no_ssl": no_ssl,
                    "account_limit": account_limit,
                    "trusted": trusted,
                    "status": status,
                    "last_seq": -1,
                    "account_count": 0,
                    "created_at": _now_us(),
                }
            ],
        )
        found = await self.get(conn, hostname)
        assert found is not None
        return found

    async def list_hosts(
        self,
        conn: AsyncConnection,
        *,
        after_id: int = 0,
        limit: int = 1000,
        ever_active: bool = False,
        status: str | None = None,
    ) -> list[HostRow]:
        """Hosts by id; ``ever_active`` keeps those that sent at least one event."""
        query = select(relay_host).where(relay_host.c.id > after_id)
        if ever_active:
            query = query.where(relay_host.c.last_seq > 0)
        if status is not None:
            query = query.where(relay_host.c.status == status)
        rows = await conn.execute(query.order_by(relay_host.c.id).limit(limit))
        return [_row(r) for r in rows]

    async def set_status(self, conn: AsyncConnection, host_id: int, status: str) -> None:
        """Change a host's status."""
        await conn.execute(
            update(relay_host).where(relay_host.c.id == host_id).values(status=status)
        )

    async def set_account_limit(self, conn: AsyncConnection, host_id: int, limit: int) -> None:
        """Change a host's account limit."""
        await conn.execute(
            update(relay_host).where(relay_host.c.id == host_id).values(account_limit=limit)
        )

    async def add_accounts(self, conn: AsyncConnection, host_id: int, delta: int) -> None:
        """Adjust a host's account count."""
        await conn.execute(
            update(relay_host)
            .where(relay_host.c.id == host_id)
            .values(account_count=relay_host.c.account_count + delta)
        )

    async def save_cursors(self, conn: AsyncConnection, cursors: Sequence[tuple[int, int]]) -> None:
        """Record ``(host_id, last_seq)`` pairs."""
        if not cursors:
            return
        if conn.dialect.name == "sqlite":
            rows = [(seq, host_id) for host_id, seq in cursors]
            await run_on_sqlite(
                conn,
                lambda sq: sq.executemany("UPDATE relay_host SET last_seq = ? WHERE id = ?", rows),
            )
            return
        await conn.execute(
            update(relay_host)
            .where(relay_host.c.id == bindparam("b_id"))
            .values(last_seq=bindparam("b_seq")),
            [{"b_id": host_id, "b_seq": seq} for host_id, seq in cursors],
        )

    # -- domain bans -------------------------------------------------------------------------

    async def ban_domain(self, conn: AsyncConnection, domain: str) -> None:
        """Ban ``domain`` and its subdomains."""
        await insert_ignore(conn, domain_ban, [{"domain": domain, "created_at": _now_us()}])

    async def unban_domain(self, conn: AsyncConnection, domain: str) -> None:
        """Lift the ban of ``domain``."""
        await conn.execute(delete(domain_ban).where(domain_ban.c.domain == domain))

    async def banned_domains(self, conn: AsyncConnection) -> list[str]:
        """Every banned domain."""
        rows = await conn.execute(select(domain_ban.c.domain).order_by(domain_ban.c.domain))
        return [r.domain for r in rows]

    async def is_domain_banned(self, conn: AsyncConnection, hostname: str) -> bool:
        """True if ``hostname`` or one of its parent domains is banned."""
        labels = hostname.split(".")
        candidates = [".".join(labels[i:]) for i in range(len(labels))]
        found = await conn.scalar(
            select(domain_ban.c.domain).where(domain_ban.c.domain.in_(candidates)).limit(1)
        )
        return found is not None
