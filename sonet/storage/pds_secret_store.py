"""Server-wide secrets the PDS generates once and shares between its processes (the PLC
rotation key)."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.upsert import insert_ignore

__all__ = ["TABLES", "SecretStore"]

meta = MetaData()

server_secret = Table(
    "server_secret",
    meta,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

TABLES = (server_secret,)


class SecretStore:
    """SQL for named server secrets."""

    async def get_or_put(self, conn: AsyncConnection, name: str, value: str) -> str:
        """The stored secret ``name``, storing ``value`` first if there is none yet."""
        await insert_ignore(conn, server_secret, [{"name": name, "value": value}])
        stored = await conn.scalar(
            select(server_secret.c.value).where(server_secret.c.name == name)
        )
        assert stored is not None
        return str(stored)
