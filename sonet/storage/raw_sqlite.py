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

__all__ = ["DeferredStatements", "run_on_sqlite"]

T = TypeVar("T")


async def run_on_sqlite(conn: AsyncConnection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Call ``fn(sqlite3_connection)`` in aiosqlite's thread, within ``conn``'s transaction."""
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection  # aiosqlite.Connection
    result: T = await driver._execute(fn, driver._conn)
    return result


class DeferredStatements:
    """Statements of one SQLite write transaction, run together in one hop before it commits.

    A group commit of many writes would otherwise cost a thread round trip per write. A
    statement function that finds its precondition broken raises, which fails the transaction.
    """

    __slots__ = ("_fns",)

    def __init__(self) -> None:
        self._fns: list[Callable[[sqlite3.Connection], object]] = []

    def add(self, fn: Callable[[sqlite3.Connection], object]) -> None:
        """Queue ``fn(sqlite3_connection)``."""
        self._fns.append(fn)

    async def flush(self, conn: AsyncConnection) -> None:
        """Run every queued function, in order, in ``conn``'s transaction."""
        if not self._fns:
            return
        fns, self._fns = self._fns, []

        def run_all(sq: sqlite3.Connection) -> None:
            for fn in fns:
                fn(sq)

        await run_on_sqlite(conn, run_all)
