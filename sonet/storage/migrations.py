"""Versioned schema migrations, one ordered list per component (pds, relay, appview, plc).

Each step runs in its own transaction and is recorded in ``sonet_migrations``; a step that
fails leaves the schema at the previous version.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.database import Database

__all__ = ["Migration", "add_missing_column", "migrate", "schema_version"]

_meta = MetaData()
migrations_table = Table(
    "sonet_migrations",
    _meta,
    Column("component", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


@dataclass(frozen=True)
class Migration:
    """One schema step: tables to create and/or SQL to run, then an optional callable."""

    version: int
    name: str
    tables: Sequence[Table] = ()
    sql: Sequence[str] = ()
    run: Callable[[AsyncConnection], Awaitable[None]] | None = field(default=None, compare=False)


def add_missing_column(
    table: str, column: str, definition: str
) -> Callable[[AsyncConnection], Awaitable[None]]:
    """A :attr:`Migration.run` adding ``column`` (``definition``: its SQL type and constraints)
    to a ``table`` an earlier step made without it. The table's definition in code already has
    the column, so a database created since then is left alone."""

    async def run(conn: AsyncConnection) -> None:
        columns = await conn.run_sync(lambda sync: inspect(sync).get_columns(table))
        if all(c["name"] != column for c in columns):
            await conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    return run


async def schema_version(db: Database, component: str) -> int:
    """The latest applied version of ``component`` (0: none)."""
    async with db.write() as conn:
        await conn.run_sync(_meta.create_all)
        version = await conn.scalar(
            select(func.max(migrations_table.c.version)).where(
                migrations_table.c.component == component
            )
        )
    return int(version or 0)


async def migrate(db: Database, component: str, steps: Sequence[Migration]) -> int:
    """Apply every step of ``component`` newer than the recorded version; returns the version."""
    versions = [s.version for s in steps]
    if versions != sorted(set(versions)):
        raise ValueError(f"{component} migrations must have strictly increasing versions")
    current = await schema_version(db, component)
    for step in steps:
        if step.version <= current:
            continue
        async with db.write() as conn:
            for table in step.tables:
                await conn.run_sync(table.create, checkfirst=True)
            for statement in step.sql:
                await conn.exec_driver_sql(statement)
            if step.run is not None:
                await step.run(conn)
            await conn.execute(
                migrations_table.insert().values(
                    component=component, version=step.version, name=step.name
                )
            )
        current = step.version
    return current
