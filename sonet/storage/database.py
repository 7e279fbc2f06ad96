"""Database access for every role: SQLite (embedded default) or PostgreSQL, via SQLAlchemy Core.

SQLite runs in WAL mode with one writer connection (writes take ``BEGIN IMMEDIATE`` so concurrent
writers queue instead of failing) and a pool of readers. PostgreSQL uses one asyncpg pool for both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from sonet.storage.wal_checkpointer import BACKSTOP_PAGES, WalCheckpointer

__all__ = ["Database", "sqlite_url"]


def sqlite_url(path: Path | str) -> str:
    """SQLAlchemy URL of an SQLite file (``:memory:`` is not supported: readers need the file)."""
    return f"sqlite+aiosqlite:///{Path(path)}"


def _normalise(url: str) -> str:
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://") and "+aiosqlite" not in url:
        return url.replace("sqlite://", "sqlite+aiosqlite://", 1)
    return url


def _sqlite_pragmas(engine: AsyncEngine, *, immediate: bool) -> None:
    pragmas = [
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA foreign_keys=ON",
        "PRAGMA busy_timeout=10000",
        "PRAGMA cache_size=-65536",
        "PRAGMA temp_store=MEMORY",
    ]
    if immediate:  # the writer: a WalCheckpointer thread checkpoints instead of its commits
        pragmas.append(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """A connection to the role's database; ``write()`` and ``read()`` give transactions."""

    def __init__(
        self,
        url: str,
        writer: AsyncEngine,
        reader: AsyncEngine,
        checkpointer: WalCheckpointer | None = None,
    ) -> None:
        self.url = url
        self._writer = writer
        self._reader = reader
        self._checkpointer = checkpointer
        self.dialect: str = writer.dialect.name

    @classmethod
    def open(cls, url: str, *, schema: str | None = None, pool_size: int = 8) -> Database:
        """Open ``url`` (``sqlite:///path`` or ``postgresql://...``); ``schema`` sets the
        PostgreSQL ``search_path`` (tests use one schema each)."""
        full = _normalise(url)
        parsed = make_url(full)
        if parsed.get_backend_name() == "sqlite":
            db_path = parsed.database
            if not db_path or db_path == ":memory:":
                raise ValueError("SQLite databases must be files")
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
            # transactions always end in COMMIT or ROLLBACK, so skip the pool's extra rollback
            writer = create_async_engine(
                full, pool_size=1, max_overflow=0, pool_reset_on_return=None
            )
            reader = create_async_engine(
                full, pool_size=pool_size, max_overflow=0, pool_reset_on_return=None
            )
            _sqlite_pragmas(writer, immediate=True)
            _sqlite_pragmas(reader, immediate=False)
            checkpointer = WalCheckpointer(db_path)
            checkpointer.start()
            return cls(full, writer, reader, checkpointer)
        connect_args: dict[str, Any] = {}
        if schema is not None:
            connect_args["server_settings"] = {"search_path": schema}
        engine = create_async_engine(
            full, pool_size=pool_size, max_overflow=pool_size, connect_args=connect_args
        )
        return cls(full, engine, engine)

    @property
    def is_sqlite(self) -> bool:
        """True on the embedded default."""
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A read-write transaction, committed on success and rolled back on error."""
        async with self._writer.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only unit of work (a consistent snapshot on both backends)."""
        async with self._reader.begin() as conn:
            yield conn

    @asynccontextmanager
    async def connect_read(self) -> AsyncIterator[AsyncConnection]:
        """A pooled read connection with no transaction opened: on PostgreSQL each statement
        then runs in its own snapshot, as it does inside a READ COMMITTED transaction, without
        the round trips of BEGIN and COMMIT."""
        async with self._reader.connect() as conn:
            yield conn

    async def close(self) -> None:
        """Release every connection."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
        await self._writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()
