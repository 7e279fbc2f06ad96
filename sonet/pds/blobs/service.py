"""The PDS's blob lifecycle: upload, reference by records, serving, listing and clean-up.

https://atproto.com/specs/blob#blob-lifecycle, as the reference PDS does it: an upload is kept
as *temporary* (sniffed type, size, CID); a commit whose records reference it makes it
permanent, inside the commit's transaction, after checking it belongs to the same account and
(while still temporary) that the reference's ``mimeType`` and ``size`` match what was stored. A
blob no record references any more is deleted with the commit that dropped the last reference;
temporary blobs nobody referenced are deleted after :data:`TEMP_MAX_AGE`.

Bytes are removed from the store only after the database says so: deletions are queued and a
background *reaper* deletes each queued blob under the sequencer's transaction lock (so after
the commit that queued it has finished, and before any later commit) if no row needs it; a
commit that rolled back leaves its rows, and so its bytes, in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterable, Sequence
from typing import Final

from sonet.pds.blobs.errors import (
    BlobNotFoundError,
    BlobTakendownError,
    InvalidMimeTypeError,
    InvalidSizeError,
)
from sonet.pds.blobs.intake import UploadedBlob, receive_upload
from sonet.pds.blobs.refs import BlobRef, blob_refs
from sonet.pds.blobs.store import BlobStore
from sonet.pds.repo_writes import PreparedWrite
from sonet.pds.sequencer import Sequencer, SequenceTransaction
from sonet.repo.cid import CID, parse_cid
from sonet.storage.database import Database
from sonet.storage.pds_blob_store import BlobMetaStore, BlobRow

__all__ = ["GC_INTERVAL", "TEMP_MAX_AGE", "BlobService"]

log = logging.getLogger(__name__)

TEMP_MAX_AGE: Final = 3600.0
"""Seconds an unreferenced upload is kept."""
GC_INTERVAL: Final = 600.0
"""Seconds between sweeps of expired temporary uploads."""
GC_BATCH: Final = 1000
REAP_RETRY_DELAY: Final = 5.0


def _now_us() -> int:
    return time.time_ns() // 1000


def _check_reference(ref: BlobRef, row: BlobRow | None) -> None:
    """The blob must be the account's, not taken down, and a reference to a still-temporary
    blob must claim its stored type and size."""
    if row is None or row.takedown_ref is not None:
        raise BlobNotFoundError(f"Could not find blob: {ref.cid.encode()}")
    if row.temp_key is None:
        return
    if ref.mime_type != row.mime_type:
        raise InvalidMimeTypeError(
            "Referenced Mimetype does not match stored blob. "
            f"Expected: {row.mime_type}, Got: {ref.mime_type}"
        )
    if ref.size != row.size:
        raise InvalidSizeError(
            f"Referenced Size does not match stored blob. Expected: {row.size}, Got: {ref.size}"
        )


class BlobService:
    """Blob metadata in ``db``, bytes in ``store``; writes serialised by ``sequencer``."""

    def __init__(
        self,
        db: Database,
        sequencer: Sequencer,
        store: BlobStore,
        *,
        temp_max_age: float = TEMP_MAX_AGE,
        gc_interval: float = GC_INTERVAL,
    ) -> None:
        self.db = db
        self.sequencer = sequencer
        self.store = store
        self.meta = BlobMetaStore()
        self.temp_max_age = temp_max_age
        self.gc_interval = gc_interval
        self._doomed: set[tuple[str, str]] = set()
        self._spent_keys: set[str] = set()
        self._doomed_accounts: set[str] = set()
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the reaper and the periodic sweep of expired temporary uploads."""
        self._tasks = [
            asyncio.create_task(self._reap_forever(), name="blob-reaper"),
            asyncio.create_task(self._sweep_forever(), name="blob-gc"),
        ]

    async def close(self) -> None:
        """Stop the background tasks, deleting what is already queued."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        with contextlib.suppress(Exception):
            await self.flush()

    # -- uploads -------------------------------------------------------------------------------

    async def upload(
        self, did: str, chunks: AsyncIterable[bytes], declared_mime: str
    ) -> UploadedBlob:
        """Store an upload of ``did`` as a temporary blob (permanent at once if a record
        already references its CID, as after a repository import)."""
        up = await receive_upload(self.store, chunks, declared_mime)
        cid = up.cid.encode()
        redundant = False
        try:
            async with self.sequencer.transaction() as tx:
                conn = tx.conn
                found = await self.meta.get(conn, did, cid)
                if found is not None and found.takedown_ref is not None:
                    raise BlobTakendownError("Blob has been takendown, cannot re-upload")
                row = BlobRow(did, cid, up.mime_type, up.size, up.temp_key, _now_us(), None)
                if found is None:
                    await self.meta.insert(conn, row)
                elif found.temp_key is None:
                    redundant = True
                    up = UploadedBlob(up.temp_key, up.cid, found.size, found.mime_type)
                else:
                    await self.meta.retake(conn, row)
                    self._spend([found.temp_key])
                if not redundant and await self.meta.referenced(conn, did, [cid]):
                    await self._make_permanent(tx, row)
        except BaseException:
            self._doom(did, {cid})  # bytes made permanent by a transaction that rolled back
            await asyncio.shield(self.store.delete_temp([up.temp_key]))
            raise
        if redundant:
            await self.store.delete_temp([up.temp_key])
        return up

    async def _make_permanent(self, tx: SequenceTransaction, row: BlobRow) -> None:
        assert row.temp_key is not None
        await self.store.make_permanent(row.temp_key, row.did, parse_cid(row.cid))
        await self.meta.make_permanent(tx.conn, row.did, row.cid)
        self._spend([row.temp_key])

    # -- the commit hook -----------------------------------------------------------------------

    async def on_commit(
        self,
        tx: SequenceTransaction,
        did: str,
        writes: Sequence[PreparedWrite],
        replaced: Sequence[PreparedWrite],
    ) -> None:
        """:data:`~sonet.pds.repo_service.BlobHook`: runs inside each commit's transaction.

        Drops the references of ``replaced`` (updated or deleted) records, checks and makes
        permanent the blobs ``writes`` reference, records those references and deletes blobs
        left without any. Raises :class:`BlobNotFoundError`, :class:`InvalidMimeTypeError` or
        :class:`InvalidSizeError`, which refuses the whole commit.
        """
        await self._track_references(tx, did, writes, replaced, strict=True)

    async def on_import(
        self,
        tx: SequenceTransaction,
        did: str,
        writes: Sequence[PreparedWrite],
        replaced: Sequence[PreparedWrite],
    ) -> None:
        """The hook for a repository import (account migration): like :meth:`on_commit`, but
        blobs not uploaded yet are recorded as missing (``listMissingBlobs``) instead of
        refusing the import; uploading one later makes it permanent."""
        await self._track_references(tx, did, writes, replaced, strict=False)

    async def _track_references(
        self,
        tx: SequenceTransaction,
        did: str,
        writes: Sequence[PreparedWrite],
        replaced: Sequence[PreparedWrite],
        *,
        strict: bool,
    ) -> None:
        refs = [
            (w, ref)
            for w in writes
            if w.action != "delete" and w.blobs
            for ref in blob_refs(w.record)
        ]
        if not refs and not replaced:
            return
        conn = tx.conn
        dropped = await self.meta.drop_references(
            conn, did, [(w.collection, w.rkey) for w in replaced]
        )
        wanted = {ref.cid.encode() for _, ref in refs}
        rows = await self.meta.get_many(conn, did, wanted, lock=True)
        if strict:
            for _, ref in refs:
                _check_reference(ref, rows.get(ref.cid.encode()))
        for row in rows.values():
            if row.temp_key is not None and row.takedown_ref is None:
                await self._make_permanent(tx, row)
        await self.meta.add_references(
            conn, did, {(w.collection, w.rkey, ref.cid.encode()) for w, ref in refs}
        )
        orphans = dropped - wanted
        orphans -= await self.meta.referenced(conn, did, orphans)
        if orphans:
            await self.meta.delete_blobs(conn, did, orphans)
            self._doom(did, orphans)

    async def delete_account(self, tx: SequenceTransaction, did: str) -> None:
        """Forget every blob of ``did`` in ``tx``; the bytes go once it has committed."""
        await self.meta.delete_account(tx.conn, did)
        self._doomed_accounts.add(did)
        self._wake.set()

    # -- reading -------------------------------------------------------------------------------

    async def find(self, did: str, cid: CID) -> BlobRow:
        """``did``'s permanent, not taken down blob ``cid``; :class:`BlobNotFoundError` if none."""
        async with self.db.read() as conn:
            row = await self.meta.get(conn, did, cid.encode())
        if row is None or row.temp_key is not None or row.takedown_ref is not None:
            raise BlobNotFoundError("Blob not found")
        return row

    async def set_takedown(self, did: str, cid: CID, ref: str | None) -> BlobRow:
        """Take ``did``'s blob ``cid`` down with moderation reference ``ref`` (None restores
        it); a taken-down blob is neither served nor referenced nor uploaded again."""
        async with self.sequencer.transaction() as tx:
            if not await self.meta.set_takedown(tx.conn, did, cid.encode(), ref):
                raise BlobNotFoundError("Blob not found")
            row = await self.meta.get(tx.conn, did, cid.encode())
        assert row is not None
        return row

    async def status(self, did: str, cid: CID) -> BlobRow:
        """``did``'s blob ``cid`` whatever its state (for moderation); BlobNotFound if none."""
        async with self.db.read() as conn:
            row = await self.meta.get(conn, did, cid.encode())
        if row is None:
            raise BlobNotFoundError("Blob not found")
        return row

    async def list_missing(
        self, did: str, *, cursor: str | None, limit: int
    ) -> list[tuple[str, str]]:
        """``(cid, record path)`` of blobs ``did``'s records reference but that were never
        uploaded here (after an import), after ``cursor``."""
        async with self.db.read() as conn:
            return await self.meta.list_missing(conn, did, after=cursor, limit=limit)

    async def counts(self, did: str) -> tuple[int, int]:
        """(blobs ``did``'s records reference, blobs stored for ``did``): checkAccountStatus's
        ``expectedBlobs`` and ``importedBlobs``."""
        async with self.db.read() as conn:
            return await self.meta.counts(conn, did)

    async def list_blobs(
        self, did: str, *, since: str | None, cursor: str | None, limit: int
    ) -> list[str]:
        """CIDs referenced by ``did``'s records (changed after rev ``since``), after ``cursor``."""
        async with self.db.read() as conn:
            return await self.meta.list_referenced(
                conn, did, since=since, after=cursor, limit=limit
            )

    # -- deleting bytes ------------------------------------------------------------------------

    def _doom(self, did: str, cids: set[str]) -> None:
        self._doomed.update((did, cid) for cid in cids)
        self._wake.set()

    def _spend(self, keys: Sequence[str]) -> None:
        self._spent_keys.update(keys)
        self._wake.set()

    async def flush(self) -> None:
        """Delete now the queued bytes that no blob row needs any more."""
        async with self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        doomed, self._doomed = self._doomed, set()
        spent, self._spent_keys = self._spent_keys, set()
        accounts, self._doomed_accounts = self._doomed_accounts, set()
        if not (doomed or spent or accounts):
            return
        try:
            async with self.sequencer.transaction() as tx:
                await self._reap(tx, doomed, spent, accounts)
        except BaseException:  # also cancelled: keep the queue for the next flush
            self._doomed |= doomed
            self._spent_keys |= spent
            self._doomed_accounts |= accounts
            raise

    async def _reap(
        self,
        tx: SequenceTransaction,
        doomed: set[tuple[str, str]],
        spent: set[str],
        accounts: set[str],
    ) -> None:
        by_did: defaultdict[str, set[str]] = defaultdict(set)
        for did, cid in doomed:
            by_did[did].add(cid)
        for did, cids in by_did.items():
            alive = await self.meta.existing(tx.conn, did, cids)
            await self.store.delete(did, [parse_cid(c) for c in cids - alive])
        await self.store.delete_temp(spent - await self.meta.temp_keys_in_use(tx.conn, spent))
        for did in accounts:
            await self.store.delete_account(did)

    async def _reap_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("could not delete blobs; retrying")
                await asyncio.sleep(REAP_RETRY_DELAY)
                self._wake.set()

    # -- expired uploads -----------------------------------------------------------------------

    async def collect_garbage(self) -> int:
        """Delete temporary uploads older than :attr:`temp_max_age`; returns how many rows."""
        total = 0
        while True:
            created_before = _now_us() - int(self.temp_max_age * 1_000_000)
            async with self.sequencer.transaction() as tx:
                expired = await self.meta.take_expired_temp(tx.conn, created_before, GC_BATCH)
                old_keys = set(await self.store.temp_keys_older_than(self.temp_max_age))
                in_use = await self.meta.temp_keys_in_use(tx.conn, old_keys)
                keys = {r.temp_key for r in expired if r.temp_key} | (old_keys - in_use)
                await self.store.delete_temp(keys)
                for row in expired:  # bytes a rolled-back commit may have made permanent
                    await self.store.delete(row.did, [parse_cid(row.cid)])
            total += len(expired)
            if len(expired) < GC_BATCH:
                return total

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.gc_interval)
            try:
                await self.collect_garbage()
            except Exception:
                log.exception("could not sweep expired temporary blobs")
