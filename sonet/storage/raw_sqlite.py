"""Run a batch of SQLite statements in one hop to the connection's thread.

aiosqlite executes each statement in a worker thread, so every statement costs a thread round
trip. On hot write paths a whole group of statements runs as one function in that thread instead,
on the same connection and inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["run_on_sqlite"]

T = TypeVar("T")


async def run_on_sqlite(conn: AsyncConnection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Call ``fn(sqlite3_connection)`` in aiosqlite's thread, within ``conn``'s transaction."""
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection  # aiosqlite.Connection
    result: T = await driver._execute(fn, driver._conn)
    return result
