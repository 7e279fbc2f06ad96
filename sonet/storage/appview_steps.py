"""AppView SQL steps written once, run on SQLite (in its thread) or on PostgreSQL (asynchronously).

The AppView's index writes (``appview_index_*``) and reads (``appview_read_*``) are written as
generators that ``yield`` :class:`Query` objects and receive their results
(``n = yield from execute(...)``). On SQLite a whole batch of events runs in one hop to the
connection's thread (:func:`sonet.storage.raw_sqlite.run_on_sqlite`), with no per-statement
round trip; on PostgreSQL each query is awaited. SQL uses ``?`` placeholders (rewritten to
``$n`` for PostgreSQL) and only syntax both databases share (``ON CONFLICT``, no ``RETURNING``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.raw_sqlite import run_on_sqlite

__all__ = [
    "Query",
    "Row",
    "Steps",
    "execute",
    "execute_many",
    "fetch_all",
    "fetch_one",
    "run_steps",
    "run_steps_asyncpg",
    "run_steps_sqlite",
]

T = TypeVar("T")
Row = tuple[Any, ...]
Mode = Literal["count", "one", "all", "many"]
Steps = Generator["Query", Any, T]


@dataclass(frozen=True, slots=True)
class Query:
    """One statement: ``count`` returns the affected row count, ``one`` a row or None, ``all``
    every row, ``many`` runs the statement once per parameter tuple and returns None."""

    sql: str
    params: Any
    mode: Mode


def execute(sql: str, *params: Any) -> Steps[int]:
    """Run a data-changing statement; returns the number of rows it changed."""
    count: int = yield Query(sql, params, "count")
    return count


def execute_many(sql: str, rows: Sequence[Sequence[Any]]) -> Steps[None]:
    """Run ``sql`` once per parameter row (nothing when ``rows`` is empty)."""
    if rows:
        yield Query(sql, rows, "many")


def fetch_one(sql: str, *params: Any) -> Steps[Row | None]:
    """The first row of a query, or None."""
    row: Row | None = yield Query(sql, params, "one")
    return row


def fetch_all(sql: str, *params: Any) -> Steps[list[Row]]:
    """Every row of a query."""
    rows: list[Row] = yield Query(sql, params, "all")
    return rows


def _run_sqlite_query(conn: sqlite3.Connection, query: Query) -> Any:
    if query.mode == "many":
        conn.executemany(query.sql, query.params)
        return None
    cursor = conn.execute(query.sql, query.params)
    if query.mode == "count":
        return cursor.rowcount
    if query.mode == "one":
        return cursor.fetchone()
    return cursor.fetchall()


def run_steps_sqlite(conn: sqlite3.Connection, steps: Steps[T]) -> T:
    """Drive ``steps`` to completion on an SQLite connection (in the caller's thread)."""
    try:
        query = next(steps)
        while True:
            query = steps.send(_run_sqlite_query(conn, query))
    except StopIteration as stop:
        result: T = stop.value
        return result


@lru_cache(maxsize=512)
def _dollar_params(sql: str) -> str:
    parts = sql.split("?")
    out = [parts[0]]
    for n, part in enumerate(parts[1:], start=1):
        out.append(f"${n}{part}")
    return "".join(out)


async def _run_pg_query(pg: Any, query: Query) -> Any:
    sql = _dollar_params(query.sql)
    if query.mode == "many":
        await pg.executemany(sql, query.params)
        return None
    if query.mode == "count":
        status: str = await pg.execute(sql, *query.params)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0
    if query.mode == "one":
        row = await pg.fetchrow(sql, *query.params)
        return None if row is None else tuple(row)
    return [tuple(r) for r in await pg.fetch(sql, *query.params)]


async def run_steps(conn: AsyncConnection, steps: Steps[T]) -> T:
    """Drive ``steps`` inside ``conn``'s transaction: one thread hop on SQLite; on PostgreSQL,
    statements awaited on the asyncpg connection itself (SQLAlchemy's per-statement layers cost
    more than the round trip), after one statement through SQLAlchemy has opened the
    transaction."""
    if conn.dialect.name == "sqlite":
        return await run_on_sqlite(conn, lambda sq: run_steps_sqlite(sq, steps))
    await conn.exec_driver_sql("SELECT 1")
    raw = await conn.get_raw_connection()
    return await run_steps_asyncpg(raw.driver_connection, steps)  # inside the open transaction


async def run_steps_asyncpg(pg: Any, steps: Steps[T]) -> T:
    """Drive ``steps`` on an ``asyncpg.Connection``, one awaited statement at a time (in its
    transaction if one is open, else each statement in its own)."""
    try:
        query = next(steps)
        while True:
            query = steps.send(await _run_pg_query(pg, query))
    except StopIteration as stop:
        result: T = stop.value
        return result
