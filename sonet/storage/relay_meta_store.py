"""Small named integers the relay keeps between runs (the event-log checkpoint)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.upsert import upsert

__all__ = ["TABLES", "RelayMetaStore", "relay_meta"]

meta = MetaData()

relay_meta = Table(
    "relay_meta",
    meta,
    Column("key", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

TABLES = (relay_meta,)


class RelayMetaStore:
    """SQL for the relay's named values."""

    async def get(self, conn: AsyncConnection, key: str) -> int | None:
        """The value of ``key`` (None if never set)."""
        value = await conn.scalar(select(relay_meta.c.value).where(relay_meta.c.key == key))
        return None if value is None else int(value)

    async def put(self, conn: AsyncConnection, key: str, value: int) -> None:
        """Set ``key`` to ``value``."""
        await upsert(conn, relay_meta, [{"key": key, "value": value}], ["key"], ["value"])
