"""Database and migrations on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select

from sonet.storage.database import Database
from sonet.storage.migrations import Migration, migrate, schema_version

meta = MetaData()
items = Table("items", meta, Column("id", Integer, primary_key=True), Column("name", String(50)))

STEPS = [
    Migration(1, "create items", tables=[items]),
    Migration(2, "add index", sql=["CREATE INDEX items_name ON items (name)"]),
]


async def test_migrations_apply_once(database: Database) -> None:
    assert await schema_version(database, "test") == 0
    assert await migrate(database, "test", STEPS) == 2
    assert await migrate(database, "test", STEPS) == 2
    assert await schema_version(database, "other") == 0


async def test_failed_step_rolls_back(database: Database) -> None:
    await migrate(database, "test", STEPS[:1])
    broken = [*STEPS[:1], Migration(2, "broken", sql=["CREATE TABLE nope (", "x"])]
    with pytest.raises(Exception):  # noqa: B017 - driver-specific error type
        await migrate(database, "test", broken)
    assert await schema_version(database, "test") == 1


async def test_write_rolls_back_on_error(database: Database) -> None:
    await migrate(database, "test", STEPS)
    with pytest.raises(RuntimeError):
        async with database.write() as conn:
            await conn.execute(items.insert().values(id=1, name="a"))
            raise RuntimeError("boom")
    async with database.read() as conn:
        assert (await conn.execute(select(items))).all() == []


async def test_concurrent_writers_all_land(database: Database) -> None:
    await migrate(database, "test", STEPS)

    async def writer(i: int) -> None:
        async with database.write() as conn:
            current = await conn.scalar(select(items.c.id).order_by(items.c.id.desc()).limit(1))
            await conn.execute(items.insert().values(id=(current or 0) + 1, name=str(i)))

    if database.is_sqlite:
        await asyncio.gather(*(writer(i) for i in range(20)))
    else:
        for i in range(20):  # serialised on PostgreSQL: the test reads max(id) without a lock
            await writer(i)
    async with database.read() as conn:
        ids = [r.id for r in (await conn.execute(select(items.c.id))).all()]
    assert sorted(ids) == list(range(1, 21))
