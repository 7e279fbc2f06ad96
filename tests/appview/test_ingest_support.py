"""Helpers for the ingest tests: records and commits built from real DAG-CBOR."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count
from typing import Any

from sqlalchemy import text

from sonet.appview.ingest.events import CommitItem, RecordDelete, RecordWrite
from sonet.repo import cbor
from sonet.storage.database import Database
from sonet.syntax.tid import tid_from

NOW = "2025-01-01T00:00:00.000Z"
_clock = count(1_700_000_000_000_000)


def next_tid() -> str:
    """A fresh, increasing TID."""
    return tid_from(next(_clock), 0)


def write(
    did: str,
    collection: str,
    value: dict[str, Any],
    rkey: str | None = None,
    *,
    update: bool = False,
) -> RecordWrite:
    """A record write of ``value`` (``$type`` filled in)."""
    value = {"$type": collection, **value}
    cid, data = cbor.encode_with_cid(value)
    return RecordWrite(
        "update" if update else "create",
        did,
        collection,
        rkey or next_tid(),
        cid.encode(),
        data,
        cbor.decode(data),
    )


@dataclass
class Actor:
    """An account writing records; each call returns the commit and remembers its URIs."""

    did: str

    def commit(self, *ops: RecordWrite | RecordDelete, rev: str | None = None) -> CommitItem:
        return CommitItem(None, self.did, rev or next_tid(), "bafycommit", NOW, list(ops))

    def post(self, text_: str = "hello", **extra: Any) -> RecordWrite:
        return write(self.did, "app.bsky.feed.post", {"text": text_, "createdAt": NOW, **extra})

    def like(self, post: RecordWrite) -> RecordWrite:
        return write(self.did, "app.bsky.feed.like", {"subject": ref(post), "createdAt": NOW})

    def repost(self, post: RecordWrite) -> RecordWrite:
        return write(self.did, "app.bsky.feed.repost", {"subject": ref(post), "createdAt": NOW})

    def follow(self, other: Actor) -> RecordWrite:
        return write(self.did, "app.bsky.graph.follow", {"subject": other.did, "createdAt": NOW})

    def block(self, other: Actor) -> RecordWrite:
        return write(self.did, "app.bsky.graph.block", {"subject": other.did, "createdAt": NOW})

    def reply(
        self, parent: RecordWrite, root: RecordWrite | None = None, text_: str = "re"
    ) -> RecordWrite:
        reply = {"root": ref(root or parent), "parent": ref(parent)}
        return self.post(text_, reply=reply)

    def delete(self, rec: RecordWrite) -> RecordDelete:
        return RecordDelete(rec.did, rec.collection, rec.rkey)


def ref(rec: RecordWrite) -> dict[str, str]:
    """A strong ref to a record."""
    return {"uri": rec.uri, "cid": rec.cid}


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    """One value from the database."""
    async with db.read() as conn:
        return await conn.scalar(text(sql), params)


async def rows(db: Database, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """All rows of a query."""
    async with db.read() as conn:
        return [tuple(r) for r in (await conn.execute(text(sql), params)).all()]
