"""PDS blob metadata: each account's blobs and which of its records reference them.

https://atproto.com/specs/blob: ``blob`` holds one row per (account, CID) with the sniffed MIME
type, the size, the temporary key while the blob is not yet referenced, and a takedown
reference; ``record_blob`` holds one row per (account, record, CID) reference. CIDs are stored
as their base32 strings, which are also the ``listBlobs`` cursor.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    MetaData,
    String,
    Table,
    Text,
    delete,
    distinct,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.dataclass_rows import from_row, insert_values
from sonet.storage.migrations import Migration
from sonet.storage.pds_repo_store import record
from sonet.storage.upsert import insert_ignore

__all__ = ["MIGRATIONS", "BlobMetaStore", "BlobRow", "blob", "record_blob"]

meta = MetaData()

blob = Table(
    "blob",
    meta,
    Column("did", String(2048), primary_key=True),
    Column("cid", String(128), primary_key=True),
    Column("mime_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("temp_key", String(64), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("takedown_ref", String(512), nullable=True),
    Index("blob_temp_key", "temp_key"),
)

record_blob = Table(
    "record_blob",
    meta,
    Column("did", String(2048), primary_key=True),
    Column("collection", String(317), primary_key=True),
    Column("rkey", String(512), primary_key=True),
    Column("cid", String(128), primary_key=True),
    Index("record_blob_did_cid", "did", "cid"),
)

MIGRATIONS = [Migration(1, "blobs and their record references", tables=[blob, record_blob])]

RecordKey = tuple[str, str]
"""A record's ``(collection, rkey)``."""


@dataclass(frozen=True, slots=True)
class BlobRow:
    """One blob of one account; ``temp_key`` is set while it is not yet referenced."""

    did: str
    cid: str
    mime_type: str
    size: int
    temp_key: str | None
    created_at: int
    takedown_ref: str | None


class BlobMetaStore:
    """SQL for blob metadata; every method runs on a connection the caller's transaction owns."""

    async def get(self, conn: AsyncConnection, did: str, cid: str) -> BlobRow | None:
        """``did``'s blob ``cid``, whatever its state."""
        q = select(blob).where(blob.c.did == did, blob.c.cid == cid)
        row = (await conn.execute(q)).first()
        return None if row is None else from_row(BlobRow, row)

    async def get_many(
        self, conn: AsyncConnection, did: str, cids: Collection[str], *, lock: bool = False
    ) -> dict[str, BlobRow]:
        """``did``'s blobs among ``cids`` by CID; ``lock`` holds their rows to the end of the
        transaction (PostgreSQL; SQLite transactions are serialised anyway)."""
        if not cids:
            return {}
        q = select(blob).where(blob.c.did == did, blob.c.cid.in_(list(cids)))
        if lock:
            q = q.with_for_update()
        return {r.cid: from_row(BlobRow, r) for r in (await conn.execute(q)).all()}

    async def insert(self, conn: AsyncConnection, row: BlobRow) -> None:
        """Record a new upload (an existing row for the same blob is left as it is)."""
        await insert_ignore(conn, blob, [insert_values(row, without={"takedown_ref"})])

    async def retake(self, conn: AsyncConnection, row: BlobRow) -> None:
        """Give a still temporary blob the key and time of a new upload of the same bytes."""
        await conn.execute(
            update(blob)
            .where(blob.c.did == row.did, blob.c.cid == row.cid, blob.c.temp_key.is_not(None))
            .values(temp_key=row.temp_key, created_at=row.created_at)
        )

    async def make_permanent(self, conn: AsyncConnection, did: str, cid: str) -> None:
        """Mark ``did``'s blob ``cid`` as referenced (no longer temporary)."""
        await conn.execute(
            update(blob).where(blob.c.did == did, blob.c.cid == cid).values(temp_key=None)
        )

    async def set_takedown(
        self, conn: AsyncConnection, did: str, cid: str, ref: str | None
    ) -> bool:
        """Take ``did``'s blob ``cid`` down (``ref``) or restore it (None); False if no blob."""
        result = await conn.execute(
            update(blob).where(blob.c.did == did, blob.c.cid == cid).values(takedown_ref=ref)
        )
        return result.rowcount == 1

    async def delete_blobs(self, conn: AsyncConnection, did: str, cids: Collection[str]) -> None:
        """Forget blobs of ``did``."""
        if cids:
            await conn.execute(delete(blob).where(blob.c.did == did, blob.c.cid.in_(list(cids))))

    async def existing(self, conn: AsyncConnection, did: str, cids: Collection[str]) -> set[str]:
        """Which of ``cids`` ``did`` has a blob row for."""
        return set(await self.get_many(conn, did, cids))

    async def temp_keys_in_use(self, conn: AsyncConnection, keys: Collection[str]) -> set[str]:
        """Which of ``keys`` a blob row still holds."""
        if not keys:
            return set()
        q = select(blob.c.temp_key).where(blob.c.temp_key.in_(list(keys)))
        return {r.temp_key for r in (await conn.execute(q)).all()}

    async def take_expired_temp(
        self, conn: AsyncConnection, created_before: int, limit: int
    ) -> list[BlobRow]:
        """Delete and return up to ``limit`` temporary blobs created before ``created_before``."""
        q = (
            select(blob)
            .where(blob.c.temp_key.is_not(None), blob.c.created_at < created_before)
            .limit(limit)
        )
        rows = [from_row(BlobRow, r) for r in (await conn.execute(q)).all()]
        keys = [r.temp_key for r in rows]
        if keys:
            await conn.execute(
                delete(blob).where(blob.c.temp_key.in_(keys), blob.c.temp_key.is_not(None))
            )
        return rows

    # -- references ----------------------------------------------------------------------------

    async def add_references(
        self, conn: AsyncConnection, did: str, refs: Iterable[tuple[str, str, str]]
    ) -> None:
        """Record that records ``(collection, rkey)`` reference blobs ``cid``."""
        rows = [{"did": did, "collection": c, "rkey": k, "cid": cid} for c, k, cid in refs]
        await insert_ignore(conn, record_blob, rows)

    async def drop_references(
        self, conn: AsyncConnection, did: str, records: Sequence[RecordKey]
    ) -> set[str]:
        """Remove the references of ``records``; returns the CIDs they referenced."""
        if not records:
            return set()
        which = (
            record_blob.c.did == did,
            tuple_(record_blob.c.collection, record_blob.c.rkey).in_(records),
        )
        cids = {r.cid for r in (await conn.execute(select(record_blob.c.cid).where(*which))).all()}
        if cids:
            await conn.execute(delete(record_blob).where(*which))
        return cids

    async def referenced(self, conn: AsyncConnection, did: str, cids: Collection[str]) -> set[str]:
        """Which of ``cids`` some record of ``did`` still references."""
        if not cids:
            return set()
        q = (
            select(record_blob.c.cid)
            .where(record_blob.c.did == did, record_blob.c.cid.in_(list(cids)))
            .distinct()
        )
        return {r[0] for r in (await conn.execute(q)).all()}

    async def list_referenced(
        self,
        conn: AsyncConnection,
        did: str,
        *,
        since: str | None,
        after: str | None,
        limit: int,
    ) -> list[str]:
        """CIDs referenced by ``did``'s records (written after rev ``since``), ordered, paged."""
        q = (
            select(record_blob.c.cid)
            .where(record_blob.c.did == did)
            .group_by(record_blob.c.cid)
            .order_by(record_blob.c.cid)
            .limit(limit)
        )
        if since:
            q = q.join(
                record,
                (record.c.did == record_blob.c.did)
                & (record.c.collection == record_blob.c.collection)
                & (record.c.rkey == record_blob.c.rkey),
            ).where(record.c.rev > since)
        if after:
            q = q.where(record_blob.c.cid > after)
        return [r.cid for r in (await conn.execute(q)).all()]

    async def list_missing(
        self, conn: AsyncConnection, did: str, *, after: str | None, limit: int
    ) -> list[tuple[str, str]]:
        """``(cid, record path)`` of referenced blobs ``did`` has no row for (after an
        import), one record per CID, ordered and paged by CID."""
        has_row = (
            select(blob.c.cid)
            .where(blob.c.did == record_blob.c.did, blob.c.cid == record_blob.c.cid)
            .exists()
        )
        path = func.min(record_blob.c.collection + "/" + record_blob.c.rkey)
        q = (
            select(record_blob.c.cid, path.label("path"))
            .where(record_blob.c.did == did, ~has_row)
            .group_by(record_blob.c.cid)
            .order_by(record_blob.c.cid)
            .limit(limit)
        )
        if after:
            q = q.where(record_blob.c.cid > after)
        return [(r.cid, r.path) for r in (await conn.execute(q)).all()]

    async def counts(self, conn: AsyncConnection, did: str) -> tuple[int, int]:
        """(distinct blobs ``did``'s records reference, blobs ``did`` has rows for)."""
        expected = await conn.scalar(
            select(func.count(distinct(record_blob.c.cid))).where(record_blob.c.did == did)
        )
        stored = await conn.scalar(select(func.count()).select_from(blob).where(blob.c.did == did))
        return int(expected or 0), int(stored or 0)

    async def delete_account(self, conn: AsyncConnection, did: str) -> None:
        """Forget every blob and reference of ``did``."""
        for table in (record_blob, blob):
            await conn.execute(delete(table).where(table.c.did == did))
