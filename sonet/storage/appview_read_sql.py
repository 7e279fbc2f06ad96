"""Shared pieces of the AppView's read SQL: ``IN`` lists, keyset pages, running read steps.

Read queries are written as :mod:`sonet.storage.appview_steps` steps (generators that ``yield``
queries), like the indexer's: a whole hydration runs in one hop to a database thread, or as
awaited statements on PostgreSQL. Keyset pages order by ``(sort_at, key)`` descending and
continue strictly below a cursor's ``(sort_at, key)`` (row-value comparison, which both
databases run as an index range).

:class:`Reader` runs read steps. On SQLite it keeps its own read-only connections, each used
by one worker thread at a time inside a deferred transaction (a consistent WAL snapshot):
a hop costs about 0.1 ms there against 0.5 ms through the async engine, which matters for
requests that hydrate in one hop. On PostgreSQL the statements go straight to the pooled
asyncpg connection, with no transaction around them (0.25 ms for a one-statement hop against
0.75 ms with BEGIN and COMMIT).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import make_url

from sonet.repo import cbor
from sonet.storage.appview_steps import (
    Row,
    Steps,
    execute,
    fetch_all,
    fetch_one,
    run_steps,
    run_steps_asyncpg,
    run_steps_sqlite,
)
from sonet.storage.database import Database

__all__ = [
    "IN_CHUNK",
    "Branch",
    "Keyset",
    "Page",
    "Reader",
    "Row",
    "Steps",
    "by_key",
    "chunks",
    "decode_record",
    "execute",
    "fetch_all",
    "fetch_in",
    "fetch_in_union",
    "fetch_one",
    "flag",
    "keyset_sql",
    "marks",
    "padded",
    "run_read",
    "run_write",
    "to_page",
]

T = TypeVar("T")

IN_CHUNK = 500
"""Largest ``IN (...)`` list sent in one statement."""
MAX_PARAMS = 8000
"""Most parameters :func:`fetch_in_union` sends in one statement (both databases allow 32k)."""


def marks(n: int) -> str:
    """``?, ?, ...`` for ``n`` parameters."""
    return ", ".join("?" * n)


def padded(batch: list[str]) -> list[str]:
    """``batch`` (not empty) grown to the next power of two by repeating its last value: an
    ``IN`` list means the same, and a query then has a few distinct texts instead of one per
    length, so the prepared-statement caches (sqlite3's, asyncpg's) keep hitting."""
    size = 1 << (len(batch) - 1).bit_length()
    return batch + [batch[-1]] * (size - len(batch))


def chunks(values: Iterable[str], size: int = IN_CHUNK) -> Iterator[list[str]]:
    """Distinct ``values`` in lists of at most ``size``."""
    batch: list[str] = []
    for value in dict.fromkeys(values):
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def fetch_in(sql: str, values: Iterable[str], *before: Any) -> Steps[list[Row]]:
    """Rows of ``sql`` whose ``{marks}`` placeholder is an ``IN`` list of ``values`` (sent in
    chunks); ``before`` are the parameters that precede the list."""
    found: list[Row] = []
    for batch in chunks(values):
        batch = padded(batch)
        found.extend((yield from fetch_all(sql.format(marks=marks(len(batch))), *before, *batch)))
    return found


Branch = tuple[str, Sequence[Any], Iterable[str]]
"""One query of :func:`fetch_in_union`: SQL with one ``{marks}`` ``IN`` list, the parameters
before the list, and the list's values."""


def fetch_in_union(branches: Sequence[Branch]) -> Steps[list[Row]]:
    """The rows of several ``IN``-list queries (with the same columns), sent as ``UNION ALL``
    statements of at most :data:`MAX_PARAMS` parameters: one round trip instead of one per
    query. Branches with an empty list are left out."""
    parts: list[tuple[str, list[Any]]] = []
    for sql, before, values in branches:
        for batch in chunks(values):
            batch = padded(batch)
            parts.append((sql.format(marks=marks(len(batch))), [*before, *batch]))
    found: list[Row] = []
    while parts:
        take, size = 1, len(parts[0][1])
        while take < len(parts) and size + len(parts[take][1]) <= MAX_PARAMS:
            size += len(parts[take][1])
            take += 1
        group, parts = parts[:take], parts[take:]
        sql = " UNION ALL ".join(q for q, _ in group)
        found.extend((yield from fetch_all(sql, *(p for _, params in group for p in params))))
    return found


def by_key(rows: Iterable[Row], make: Callable[[Row], T], key: int = 0) -> dict[str, T]:
    """``{row[key]: make(row)}``."""
    return {str(r[key]): make(r) for r in rows}


def decode_record(data: Any) -> dict[str, Any]:
    """A stored record's value (an empty dict if the bytes are not a DAG-CBOR map)."""
    try:
        value = cbor.decode(bytes(data))
    except cbor.CborDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def flag(value: Any) -> bool:
    """A boolean column (SQLite returns integers)."""
    return bool(value)


@dataclass(frozen=True, slots=True)
class Keyset:
    """A position in a newest-first listing: the ``sort_at`` and tie-break key of the last
    item served."""

    sort_at: str
    key: str

    def where(self, sort_col: str, key_col: str) -> tuple[str, tuple[str, ...]]:
        """``AND`` clause and parameters that continue strictly after this position."""
        return f" AND ({sort_col}, {key_col}) < (?, ?)", (self.sort_at, self.key)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Items of one page and, when more follow, the position to continue from."""

    items: list[T]
    next: Keyset | None


def keyset_sql(after: Keyset | None, sort_col: str, key_col: str) -> tuple[str, str, list[Any]]:
    """``(where clause, order-and-limit clause, where parameters)`` of a newest-first page;
    pass ``limit + 1`` as the last parameter (the extra row tells whether a next page exists)."""
    where, params = after.where(sort_col, key_col) if after is not None else ("", ())
    return where, f" ORDER BY {sort_col} DESC, {key_col} DESC LIMIT ?", list(params)


def to_page(
    rows: Sequence[Row], limit: int, make: Callable[[Row], T], sort: int, key: int
) -> Page[T]:
    """The first ``limit`` rows as a page; a next position when there were more."""
    items = [make(r) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit and limit > 0 else None
    return Page(items, Keyset(str(last[sort]), str(last[key])) if last is not None else None)


class Reader:
    """Runs read steps on ``db``: through a pool of ``size`` raw read-only connections on
    SQLite, on the asyncpg connections of ``db``'s pool on PostgreSQL."""

    def __init__(self, db: Database, size: int = 4) -> None:
        self.db = db
        self.size = size
        self._path = make_url(db.url).database if db.is_sqlite else None
        self._idle: asyncio.Queue[sqlite3.Connection] | None = None
        self._all: list[sqlite3.Connection] = []
        self._threads: ThreadPoolExecutor | None = None

    def _open(self) -> sqlite3.Connection:
        assert self._path is not None
        conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        for pragma in (
            "query_only=ON",
            "busy_timeout=10000",
            "cache_size=-32768",
            "temp_store=MEMORY",
        ):
            conn.execute(f"PRAGMA {pragma}")
        self._all.append(conn)
        return conn

    async def run(self, steps: Steps[T]) -> T:
        """Run ``steps`` in one read transaction on SQLite (a consistent snapshot); on
        PostgreSQL, statement by statement on a pooled connection (each in its own snapshot,
        as in a READ COMMITTED transaction, without BEGIN and COMMIT: 0.5 ms less per hop)."""
        if self._path is None:
            async with self.db.connect_read() as pooled:
                raw = await pooled.get_raw_connection()
                return await run_steps_asyncpg(raw.driver_connection, steps)
        if self._idle is None:
            self._idle = asyncio.Queue()
            self._threads = ThreadPoolExecutor(self.size, thread_name_prefix="appview-read")
            for _ in range(self.size):
                self._idle.put_nowait(await asyncio.to_thread(self._open))
        conn = await self._idle.get()
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._threads, _in_snapshot, conn, steps)
        finally:
            self._idle.put_nowait(conn)

    async def close(self) -> None:
        """Close the connections and stop the threads."""
        if self._threads is not None:
            self._threads.shutdown(wait=True)
        for conn in self._all:
            conn.close()
        self._all.clear()
        self._idle = None
        self._threads = None


def _in_snapshot(conn: sqlite3.Connection, steps: Steps[T]) -> T:
    conn.execute("BEGIN")
    try:
        return run_steps_sqlite(conn, steps)
    finally:
        conn.execute("COMMIT")


async def run_read(db: Database, steps: Steps[T]) -> T:
    """Run read steps in one read transaction."""
    async with db.read() as conn:
        return await run_steps(conn, steps)


async def run_write(db: Database, steps: Steps[T]) -> T:
    """Run steps in one write transaction."""
    async with db.write() as conn:
        return await run_steps(conn, steps)
