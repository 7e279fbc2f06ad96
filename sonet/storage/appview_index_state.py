"""AppView index writes of its bookkeeping: exact aggregate counts, firehose cursors, backfilled
hosts, and the SQLite writer's tuning for bulk indexing.

Counts (``post_agg`` keyed by post URI, ``profile_agg`` keyed by DID) are changed by adding
deltas with one upsert per table and column. A cursor is the sequence number of the last frame
of a source (https://atproto.com/specs/event-stream#sequence-numbers) whose events are indexed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Literal

from sonet.storage.appview_steps import Steps, execute, execute_many, fetch_one

__all__ = [
    "AggTable",
    "add_counts",
    "count_value",
    "load_cursor",
    "save_backfill_host",
    "save_cursor",
    "tune_writer",
]

AggTable = Literal["post_agg", "profile_agg"]
_KEYS: dict[AggTable, str] = {"post_agg": "uri", "profile_agg": "did"}


def count_value(table: AggTable, key: str, column: str) -> Steps[int]:
    """The stored value of a count (0 when the row does not exist)."""
    row = yield from fetch_one(f"SELECT {column} FROM {table} WHERE {_KEYS[table]} = ?", key)
    return int(row[0]) if row else 0


def add_counts(table: AggTable, column: str, deltas: Sequence[tuple[str, int]]) -> Steps[None]:
    """Add ``(key, delta)`` pairs to one count column (creating missing rows)."""
    key = _KEYS[table]
    yield from execute_many(
        f"INSERT INTO {table} ({key}, {column}) VALUES (?, ?) "
        f"ON CONFLICT ({key}) DO UPDATE SET {column} = {table}.{column} + excluded.{column}",
        deltas,
    )


def save_cursor(source: str, seq: int, now: str) -> Steps[None]:
    """Persist the resume point of a firehose source."""
    yield from execute(
        "INSERT INTO ingest_cursor (source, seq, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (source) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at",
        source,
        seq,
        now,
    )


def load_cursor(source: str) -> Steps[int | None]:
    """The saved resume point of a firehose source, if any."""
    row = yield from fetch_one("SELECT seq FROM ingest_cursor WHERE source = ?", source)
    return None if row is None else int(row[0])


def save_backfill_host(host: str, repos_done: int, finished_at: str) -> Steps[None]:
    """Record that a host's repos were backfilled."""
    yield from execute(
        "INSERT INTO backfill_host (host, repos_done, finished_at) VALUES (?, ?, ?) "
        "ON CONFLICT (host) DO UPDATE SET repos_done = excluded.repos_done, "
        "finished_at = excluded.finished_at",
        host,
        repos_done,
        finished_at,
    )


def tune_writer(
    sq: sqlite3.Connection, wal_autocheckpoint: int, cache_mib: int, mmap_mib: int
) -> None:
    """Set the writer connection's checkpoint interval (pages), page cache and memory map."""
    for pragma in (
        f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint)}",
        f"PRAGMA cache_size={-int(cache_mib) * 1024}",
        f"PRAGMA mmap_size={int(mmap_mib) * 1024 * 1024}",
    ):
        sq.execute(pragma).fetchall()
