"""PDS repository storage: current roots, blocks (commits, MST nodes, records) and the record index.

https://atproto.com/specs/repository: a repo is its blocks plus a pointer to the latest signed
commit. ``record`` indexes the current records by collection and rkey for getRecord/listRecords, with
the moderation reference of a taken-down record (kept when the record is updated, as the
reference PDS does).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    delete,
    exists,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.repo.cid import CID
from sonet.storage.migrations import Migration, add_missing_column
from sonet.storage.raw_sqlite import DeferredStatements, run_on_sqlite
from sonet.storage.upsert import insert_ignore, upsert

__all__ = ["MIGRATIONS", "CommitWrite", "HeadMovedError", "RecordRow", "RepoRoot", "RepoStore"]

meta = MetaData()

repo_root = Table(
    "repo_root",
    meta,
    Column("did", String(2048), primary_key=True),
    Column("commit_cid", LargeBinary, nullable=False),
    Column("data_cid", LargeBinary, nullable=False),
    Column("rev", String(32), nullable=False),
)

repo_block = Table(
    "repo_block",
    meta,
    Column("did", String(2048), primary_key=True),
    Column("cid", LargeBinary, primary_key=True),
    Column("rev", String(32), nullable=False),
    Column("block", LargeBinary, nullable=False),
    Index("repo_block_did_rev", "did", "rev"),
)

record = Table(
    "record",
    meta,
    Column("did", String(2048), primary_key=True),
    Column("collection", String(317), primary_key=True),
    Column("rkey", String(512), primary_key=True),
    Column("cid", LargeBinary, nullable=False),
    Column("rev", String(32), nullable=False),
    Column("indexed_at", BigInteger, nullable=False),
    Column("takedown_ref", String(512), nullable=True),
    Index("record_did_cid", "did", "cid"),
)

MIGRATIONS = [
    Migration(1, "repository roots, blocks and records", tables=[repo_root, repo_block, record]),
    Migration(
        2,
        "record takedowns",
        run=add_missing_column("record", "takedown_ref", "VARCHAR(512)"),
    ),
]


class HeadMovedError(Exception):
    """A deferred commit found its repository head moved (a concurrent commit won)."""


@dataclass(frozen=True, slots=True)
class RepoRoot:
    """The head of a repository."""

    did: str
    commit_cid: CID
    data_cid: CID
    rev: str


@dataclass(frozen=True, slots=True)
class CommitWrite:
    """Everything one commit changes in a repository's storage."""

    root: RepoRoot
    expected: CID
    blocks: Sequence[tuple[CID, bytes]]
    upserts: Sequence[tuple[str, str, CID]]
    deletes: Sequence[tuple[str, str]]
    gone: Sequence[CID]
    indexed_at: int


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One indexed record (``takedown_ref``: set while it is taken down)."""

    collection: str
    rkey: str
    cid: CID
    block: bytes
    takedown_ref: str | None = None


class RepoStore:
    """SQL for repositories; every method runs on a connection the caller's transaction owns."""

    async def apply_commit(
        self, conn: AsyncConnection, w: CommitWrite, later: DeferredStatements | None = None
    ) -> bool:
        """Store one commit's changes; False (and nothing written) if the head moved.

        On SQLite with ``later``, the statements join the transaction's deferred ones and True
        is returned at once; a moved head then raises :class:`HeadMovedError` when they run."""
        if conn.dialect.name == "sqlite":
            if later is not None:
                later.add(lambda sq: _apply_commit_sqlite(sq, w) or _head_moved(w))
                return True
            return await run_on_sqlite(conn, lambda sq: _apply_commit_sqlite(sq, w))
        did, rev = w.root.did, w.root.rev
        if not await self.swap_root(conn, w.root, w.expected):
            return False
        await self.put_blocks(conn, did, rev, w.blocks)
        await self.put_records(conn, did, rev, w.upserts, w.indexed_at)
        await self.delete_records(conn, did, w.deletes)
        await self.delete_blocks(conn, did, w.gone)
        return True

    async def get_root(self, conn: AsyncConnection, did: str) -> RepoRoot | None:
        """The current head of ``did``'s repo, or None."""
        row = (await conn.execute(select(repo_root).where(repo_root.c.did == did))).first()
        if row is None:
            return None
        return RepoRoot(did, CID(row.commit_cid), CID(row.data_cid), row.rev)

    async def list_roots(
        self, conn: AsyncConnection, after: str | None, limit: int
    ) -> list[RepoRoot]:
        """Repository heads ordered by DID, after the ``after`` cursor."""
        q = select(repo_root).order_by(repo_root.c.did).limit(limit)
        if after:
            q = q.where(repo_root.c.did > after)
        rows = (await conn.execute(q)).all()
        return [RepoRoot(r.did, CID(r.commit_cid), CID(r.data_cid), r.rev) for r in rows]

    async def get_blocks(
        self, conn: AsyncConnection, did: str, cids: Iterable[CID]
    ) -> dict[CID, bytes]:
        """The blocks among ``cids`` that ``did``'s repo holds."""
        wanted = [bytes(c.cid_bytes) for c in cids]
        if not wanted:
            return {}
        rows = await conn.execute(
            select(repo_block.c.cid, repo_block.c.block).where(
                repo_block.c.did == did, repo_block.c.cid.in_(wanted)
            )
        )
        return {CID(r.cid): r.block for r in rows}

    async def iter_blocks(
        self, conn: AsyncConnection, did: str, since: str | None = None, batch: int = 5000
    ) -> AsyncIterator[list[tuple[CID, bytes]]]:
        """Every block of the repo (or those written after rev ``since``), in batches."""
        q = select(repo_block.c.cid, repo_block.c.block).where(repo_block.c.did == did)
        if since:
            q = q.where(repo_block.c.rev > since)
        result = await conn.stream(q.execution_options(yield_per=batch))
        async for part in result.partitions(batch):
            yield [(CID(r.cid), r.block) for r in part]

    async def create_root(self, conn: AsyncConnection, root: RepoRoot) -> None:
        """Record the first commit of a new repository."""
        await conn.execute(
            repo_root.insert().values(
                did=root.did,
                commit_cid=bytes(root.commit_cid.cid_bytes),
                data_cid=bytes(root.data_cid.cid_bytes),
                rev=root.rev,
            )
        )

    async def swap_root(self, conn: AsyncConnection, root: RepoRoot, expected: CID) -> bool:
        """Move the head to ``root`` if it is still at ``expected`` (compare-and-swap)."""
        result = await conn.execute(
            update(repo_root)
            .where(repo_root.c.did == root.did, repo_root.c.commit_cid == bytes(expected.cid_bytes))
            .values(
                commit_cid=bytes(root.commit_cid.cid_bytes),
                data_cid=bytes(root.data_cid.cid_bytes),
                rev=root.rev,
            )
        )
        return result.rowcount == 1

    async def put_blocks(
        self, conn: AsyncConnection, did: str, rev: str, blocks: Iterable[tuple[CID, bytes]]
    ) -> None:
        """Store blocks (already-present CIDs are left as they are)."""
        rows = [{"did": did, "cid": bytes(c.cid_bytes), "rev": rev, "block": b} for c, b in blocks]
        await insert_ignore(conn, repo_block, rows)

    async def delete_blocks(self, conn: AsyncConnection, did: str, cids: Iterable[CID]) -> None:
        """Remove blocks no longer part of the repo (skipping any a current record still uses)."""
        gone = [bytes(c.cid_bytes) for c in cids]
        if not gone:
            return
        still_used = exists().where(and_(record.c.did == did, record.c.cid == repo_block.c.cid))
        await conn.execute(
            delete(repo_block).where(
                repo_block.c.did == did, repo_block.c.cid.in_(gone), ~still_used
            )
        )

    async def put_records(
        self,
        conn: AsyncConnection,
        did: str,
        rev: str,
        rows: Sequence[tuple[str, str, CID]],
        now_us: int,
    ) -> None:
        """Index created or updated records ``(collection, rkey, cid)``."""
        await upsert(
            conn,
            record,
            [
                {
                    "did": did,
                    "collection": c,
                    "rkey": k,
                    "cid": bytes(cid.cid_bytes),
                    "rev": rev,
                    "indexed_at": now_us,
                }
                for c, k, cid in rows
            ],
            keys=["did", "collection", "rkey"],
            update=["cid", "rev", "indexed_at"],
        )

    async def delete_records(
        self, conn: AsyncConnection, did: str, keys: Sequence[tuple[str, str]]
    ) -> None:
        """Drop deleted records from the index."""
        for collection, rkey in keys:
            await conn.execute(
                delete(record).where(
                    record.c.did == did, record.c.collection == collection, record.c.rkey == rkey
                )
            )

    async def get_record(
        self, conn: AsyncConnection, did: str, collection: str, rkey: str
    ) -> RecordRow | None:
        """A current record with its block (taken down or not)."""
        row = (
            await conn.execute(
                select(record.c.cid, repo_block.c.block, record.c.takedown_ref)
                .join(
                    repo_block,
                    and_(repo_block.c.did == record.c.did, repo_block.c.cid == record.c.cid),
                )
                .where(
                    record.c.did == did, record.c.collection == collection, record.c.rkey == rkey
                )
            )
        ).first()
        if row is None:
            return None
        return RecordRow(collection, rkey, CID(row.cid), row.block, row.takedown_ref)

    async def set_record_takedown(
        self, conn: AsyncConnection, did: str, collection: str, rkey: str, ref: str | None
    ) -> bool:
        """Take a current record down with moderation reference ``ref`` (None restores it);
        False if there is no such record."""
        result = await conn.execute(
            update(record)
            .where(record.c.did == did, record.c.collection == collection, record.c.rkey == rkey)
            .values(takedown_ref=ref)
        )
        return result.rowcount == 1

    async def list_records(
        self,
        conn: AsyncConnection,
        did: str,
        collection: str,
        limit: int,
        cursor: str | None = None,
        reverse: bool = False,
    ) -> list[RecordRow]:
        """Records of a collection that are not taken down, ordered by rkey: newest first
        unless ``reverse``."""
        q = (
            select(record.c.rkey, record.c.cid, repo_block.c.block)
            .join(
                repo_block, and_(repo_block.c.did == record.c.did, repo_block.c.cid == record.c.cid)
            )
            .where(
                record.c.did == did,
                record.c.collection == collection,
                record.c.takedown_ref.is_(None),
            )
            .limit(limit)
        )
        if reverse:
            q = q.order_by(record.c.rkey.asc())
            if cursor:
                q = q.where(record.c.rkey > cursor)
        else:
            q = q.order_by(record.c.rkey.desc())
            if cursor:
                q = q.where(record.c.rkey < cursor)
        rows = (await conn.execute(q)).all()
        return [RecordRow(collection, r.rkey, CID(r.cid), r.block) for r in rows]

    async def collections(self, conn: AsyncConnection, did: str) -> list[str]:
        """The collections ``did`` has records in."""
        rows = await conn.execute(
            select(record.c.collection)
            .where(record.c.did == did)
            .distinct()
            .order_by(record.c.collection)
        )
        return [r.collection for r in rows]

    async def record_count(self, conn: AsyncConnection, did: str) -> int:
        """How many records the repo holds."""
        from sqlalchemy import func

        return int(
            await conn.scalar(select(func.count()).select_from(record).where(record.c.did == did))
            or 0
        )

    async def delete_repo(self, conn: AsyncConnection, did: str) -> None:
        """Remove everything stored for ``did``'s repository."""
        for table in (record, repo_block, repo_root):
            await conn.execute(delete(table).where(table.c.did == did))

    # -- reads for sync (getRepo, getRecord proofs) and import --------------------------------

    async def snapshot(self, conn: AsyncConnection) -> None:
        """Make every later read of this (just begun) transaction see one state of the database.

        SQLite read transactions already do; PostgreSQL needs REPEATABLE READ, set before the
        transaction's first query.
        """
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))

    async def iter_raw_blocks(
        self, conn: AsyncConnection, did: str, since: str | None = None, batch: int = 5000
    ) -> AsyncIterator[list[tuple[bytes, bytes]]]:
        """Like :meth:`iter_blocks` with CIDs as raw bytes (for streaming whole repos fast:
        on SQLite each batch is one hop to the database thread)."""
        sql = "SELECT cid, block FROM repo_block WHERE did = ?" + (" AND rev > ?" if since else "")
        args = (did, since) if since else (did,)
        if conn.dialect.name == "sqlite":
            cursor = await run_on_sqlite(conn, lambda sq: sq.execute(sql, args))
            try:
                while rows := await run_on_sqlite(conn, lambda _sq: cursor.fetchmany(batch)):
                    yield rows
            finally:
                cursor.close()
            return
        q = select(repo_block.c.cid, repo_block.c.block).where(repo_block.c.did == did)
        if since:
            q = q.where(repo_block.c.rev > since)
        result = await conn.stream(q.execution_options(yield_per=batch))
        async for part in result.partitions(batch):
            yield [(bytes(r.cid), bytes(r.block)) for r in part]

    async def record_paths(self, conn: AsyncConnection, did: str) -> list[tuple[str, str]]:
        """``(collection, rkey)`` of every current record of ``did``."""
        rows = await conn.execute(
            select(record.c.collection, record.c.rkey).where(record.c.did == did)
        )
        return [(r.collection, r.rkey) for r in rows]


def _head_moved(w: CommitWrite) -> bool:
    raise HeadMovedError(f"head of {w.root.did} is no longer {w.expected.encode()}")


def _apply_commit_sqlite(sq: sqlite3.Connection, w: CommitWrite) -> bool:
    did, rev = w.root.did, w.root.rev
    cur = sq.execute(
        "UPDATE repo_root SET commit_cid = ?, data_cid = ?, rev = ? WHERE did = ? AND commit_cid = ?",
        (w.root.commit_cid.cid_bytes, w.root.data_cid.cid_bytes, rev, did, w.expected.cid_bytes),
    )
    if cur.rowcount != 1:
        return False
    sq.executemany(
        "INSERT OR IGNORE INTO repo_block (did, cid, rev, block) VALUES (?, ?, ?, ?)",
        [(did, c.cid_bytes, rev, b) for c, b in w.blocks],
    )
    sq.executemany(
        "INSERT INTO record (did, collection, rkey, cid, rev, indexed_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (did, collection, rkey) DO UPDATE SET"
        " cid = excluded.cid, rev = excluded.rev, indexed_at = excluded.indexed_at",
        [(did, c, k, cid.cid_bytes, rev, w.indexed_at) for c, k, cid in w.upserts],
    )
    sq.executemany(
        "DELETE FROM record WHERE did = ? AND collection = ? AND rkey = ?",
        [(did, c, k) for c, k in w.deletes],
    )
    sq.executemany(
        "DELETE FROM repo_block WHERE did = ? AND cid = ?"
        " AND NOT EXISTS (SELECT 1 FROM record WHERE record.did = ? AND record.cid = ?)",
        [(did, c.cid_bytes, did, c.cid_bytes) for c in w.gone],
    )
    return True
