"""Databases as an earlier schema step left them, for tests of later steps that add columns."""

from __future__ import annotations

from sqlalchemy import Table, inspect

from sonet.storage.database import Database
from sonet.storage.migrations import migrations_table

__all__ = ["column_names", "step_one_without"]


async def step_one_without(database: Database, component: str, table: Table, column: str) -> None:
    """Make ``table`` as step 1 of ``component`` made it, before ``column`` existed."""
    async with database.write() as conn:
        await conn.run_sync(table.create)
        await conn.exec_driver_sql(f"ALTER TABLE {table.name} DROP COLUMN {column}")
        await conn.run_sync(migrations_table.create, checkfirst=True)
        await conn.execute(
            migrations_table.insert().values(component=component, version=1, name="step one")
        )


async def column_names(database: Database, table: str) -> set[str]:
    """The columns ``table`` has now."""
    async with database.read() as conn:
        return await conn.run_sync(
            lambda sync: {c["name"] for c in inspect(sync).get_columns(table)}
        )
