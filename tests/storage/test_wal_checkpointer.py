"""The background WAL checkpointer copies committed pages back without the writer's help."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy import text

from sonet.storage.database import Database, sqlite_url
from sonet.storage.wal_checkpointer import BACKSTOP_PAGES, WalCheckpointer


async def test_commits_are_checkpointed_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    db = Database.open(sqlite_url(path))
    try:
        async with db.write() as conn:
            autocheckpoint = (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar()
            await conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)"))
        assert autocheckpoint == BACKSTOP_PAGES
        before = path.stat().st_size
        async with db.write() as conn:
            for i in range(2_000):
                await conn.execute(text("INSERT INTO t VALUES (:k, zeroblob(500))"), {"k": i})
        for _ in range(100):  # the thread checkpoints every quarter second
            if path.stat().st_size > before + 500_000:
                break
            await asyncio.sleep(0.05)
        assert path.stat().st_size > before + 500_000
    finally:
        await db.close()
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT count(*) FROM t").fetchone() == (2_000,)


def test_stop_without_a_database_file(tmp_path: Path) -> None:
    checkpointer = WalCheckpointer(str(tmp_path / "missing" / "db.sqlite"), interval=0.01)
    checkpointer.start()
    checkpointer.stop()
