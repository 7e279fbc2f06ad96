"""AppView index writes of records: the raw ``record`` rows, ``duplicate_record``, and the
per-collection tables whose rows start with the shared record columns
(:func:`sonet.storage.appview_record_tables.record_columns`).

Table and column names come from the indexers' own constants, never from input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sonet.storage.appview_index_actors import did_uri_range
from sonet.storage.appview_steps import Steps, execute, fetch_all, fetch_one

__all__ = [
    "delete_duplicate",
    "delete_record_row",
    "find_uri",
    "insert_duplicate",
    "insert_record_row",
    "insert_row",
    "oldest_duplicate",
    "record_data",
    "repo_record_cids",
    "set_post_flag",
    "take_row",
    "update_duplicate",
    "update_record_row",
]


def insert_record_row(uri: str, cid: str, did: str, data: bytes, indexed_at: str) -> Steps[None]:
    """Keep a record's bytes (a no-op if the URI is already stored)."""
    yield from execute(
        "INSERT INTO record (uri, cid, did, data, indexed_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (uri) DO NOTHING",
        uri,
        cid,
        did,
        data,
        indexed_at,
    )


def update_record_row(uri: str, cid: str, data: bytes, indexed_at: str) -> Steps[None]:
    """Replace a stored record's CID and bytes."""
    yield from execute(
        "UPDATE record SET cid = ?, data = ?, indexed_at = ? WHERE uri = ?",
        cid,
        data,
        indexed_at,
        uri,
    )


def delete_record_row(uri: str) -> Steps[None]:
    """Forget a record's bytes and its duplicate entry, if any."""
    yield from execute("DELETE FROM record WHERE uri = ?", uri)
    yield from delete_duplicate(uri)


def record_data(uri: str) -> Steps[bytes | None]:
    """The stored DAG-CBOR bytes of a record, or None."""
    found = yield from fetch_one("SELECT data FROM record WHERE uri = ?", uri)
    return None if found is None else bytes(found[0])


def repo_record_cids(did: str) -> Steps[dict[str, str]]:
    """``{uri: cid}`` of every stored record of the repo."""
    low, high = did_uri_range(did)
    rows = yield from fetch_all("SELECT uri, cid FROM record WHERE uri >= ? AND uri < ?", low, high)
    return {str(uri): str(cid) for uri, cid in rows}


def insert_duplicate(uri: str, cid: str, original: str, indexed_at: str) -> Steps[None]:
    """Note that ``uri`` repeats the indexed record ``original``."""
    yield from execute(
        "INSERT INTO duplicate_record (uri, cid, duplicate_of, indexed_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (uri) DO NOTHING",
        uri,
        cid,
        original,
        indexed_at,
    )


def update_duplicate(uri: str, cid: str, original: str, indexed_at: str) -> Steps[None]:
    """Point an existing duplicate entry at its (new) original."""
    yield from execute(
        "UPDATE duplicate_record SET cid = ?, duplicate_of = ?, indexed_at = ? WHERE uri = ?",
        cid,
        original,
        indexed_at,
        uri,
    )


def delete_duplicate(uri: str) -> Steps[None]:
    """Remove a duplicate entry."""
    yield from execute("DELETE FROM duplicate_record WHERE uri = ?", uri)


def oldest_duplicate(original: str) -> Steps[tuple[str, str, bytes, str] | None]:
    """``(uri, cid, data, indexed_at)`` of the first-seen duplicate of ``original``, if any."""
    found = yield from fetch_one(
        "SELECT d.uri, d.cid, r.data, d.indexed_at FROM duplicate_record d "
        "JOIN record r ON r.uri = d.uri "
        "WHERE d.duplicate_of = ? ORDER BY d.indexed_at, d.uri LIMIT 1",
        original,
    )
    if found is None:
        return None
    return str(found[0]), str(found[1]), bytes(found[2]), str(found[3])


def insert_row(table: str, row: Mapping[str, Any]) -> Steps[bool]:
    """Insert ``row`` into ``table``; False if a row with its key already exists."""
    inserted = yield from execute(
        f'INSERT INTO "{table}" ({", ".join(row)}) VALUES ({", ".join("?" * len(row))}) '
        "ON CONFLICT DO NOTHING",
        *row.values(),
    )
    return bool(inserted)


def take_row(table: str, uri: str, columns: Sequence[str]) -> Steps[dict[str, Any] | None]:
    """Delete the row of ``uri`` from ``table`` and return its ``columns`` (None if absent)."""
    found = yield from fetch_one(f'SELECT {", ".join(columns)} FROM "{table}" WHERE uri = ?', uri)
    if found is None:
        return None
    yield from execute(f'DELETE FROM "{table}" WHERE uri = ?', uri)
    return dict(zip(columns, found, strict=True))


def find_uri(table: str, where: Mapping[str, Any]) -> Steps[str | None]:
    """The URI of a row of ``table`` with these column values, if any."""
    found = yield from fetch_one(
        f'SELECT uri FROM "{table}" WHERE {" AND ".join(f"{c} = ?" for c in where)}',
        *where.values(),
    )
    return None if found is None else str(found[0])


def set_post_flag(column: str, post_uri: str, on: bool) -> Steps[None]:
    """Set a boolean column of a post (``has_thread_gate``, ``has_post_gate``, ...)."""
    yield from execute(f"UPDATE post SET {column} = ? WHERE uri = ?", on, post_uri)
