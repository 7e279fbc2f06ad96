"""The blob store on a local disk (the embedded default), under ``config.blobs_dir``.

Layout: ``tmp/<key>`` for uploads, ``blocks/<xx>/<did>/<cid>`` for permanent blobs, where ``xx``
is two hex digits of the DID's SHA-256 (spreading accounts over 256 directories) and ``:`` in the
DID is written ``_`` (which no DID contains). Uploads are written in batches (each while the
next arrives) and synced before their key is returned; a blob becomes permanent by a hard link (atomic; falling back to
copy, sync and rename across file systems), so a permanent path never holds partial bytes.
File operations run in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import re
import secrets
import shutil
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from pathlib import Path
from typing import BinaryIO, Final

from sonet.pds.blobs.errors import BlobNotFoundError, InvalidBlobKeyError
from sonet.pds.blobs.store import BlobStore
from sonet.repo.cid import CID

__all__ = ["DiskBlobStore"]

READ_CHUNK: Final = 256 * 1024
WRITE_BATCH: Final = 512 * 1024
"""Upload chunks are written in batches of about this size, one thread hop each."""
_DID = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]+")
_KEY = re.compile(r"[0-9a-f]{32}")
_LINK_UNSUPPORTED: Final = (errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK)


def _check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise InvalidBlobKeyError(f"not a temporary blob key: {key!r}")
    return key


def _sync_file(fh: BinaryIO) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def _discard(fh: BinaryIO, path: Path) -> None:
    fh.close()
    path.unlink(missing_ok=True)


def _finish(fh: BinaryIO, rest: list[bytes], sync: bool) -> None:
    try:
        fh.writelines(rest)
        if sync:
            _sync_file(fh)
    finally:
        fh.close()


def _copy_atomically(src: Path, dst: Path, sync: bool) -> None:
    part = dst.with_name(f"{dst.name}.{secrets.token_hex(8)}.part")
    try:
        with src.open("rb") as reader, part.open("wb") as writer:
            shutil.copyfileobj(reader, writer, READ_CHUNK)
            if sync:
                _sync_file(writer)
        os.replace(part, dst)
    finally:
        part.unlink(missing_ok=True)


class DiskBlobStore(BlobStore):
    """Blobs as files under ``root``; ``sync`` fsyncs uploads before accepting them."""

    def __init__(self, root: Path, *, sync: bool = True) -> None:
        self.root = Path(root)
        self.sync = sync
        self.temp_dir = self.root / "tmp"
        self.blocks_dir = self.root / "blocks"

    # -- paths ---------------------------------------------------------------------------------

    def account_dir(self, did: str) -> Path:
        """The directory of ``did``'s permanent blobs."""
        if not _DID.fullmatch(did):
            raise InvalidBlobKeyError(f"not a DID: {did!r}")
        shard = hashlib.sha256(did.encode()).hexdigest()[:2]
        return self.blocks_dir / shard / did.replace(":", "_")

    def blob_path(self, did: str, cid: CID) -> Path:
        """Where ``did``'s permanent blob ``cid`` is stored."""
        return self.account_dir(did) / cid.encode()

    def temp_path(self, key: str) -> Path:
        """Where the temporary upload ``key`` is stored."""
        return self.temp_dir / _check_key(key)

    # -- writing -------------------------------------------------------------------------------

    async def put_temp(self, chunks: AsyncIterable[bytes]) -> str:
        key = secrets.token_hex(16)
        path = self.temp_path(key)
        fh = await asyncio.to_thread(self._create, path)
        writing: asyncio.Future[None] | None = None
        try:
            batch: list[bytes] = []
            size = 0
            async for chunk in chunks:
                batch.append(chunk)
                size += len(chunk)
                if size >= WRITE_BATCH:  # write it while the next batch arrives
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(asyncio.to_thread(fh.writelines, batch))
                    batch, size = [], 0
            if writing is not None:
                await writing
            await asyncio.to_thread(_finish, fh, batch, self.sync)
        except BaseException:
            if writing is not None:
                await asyncio.gather(writing, return_exceptions=True)
            await asyncio.shield(asyncio.to_thread(_discard, fh, path))
            raise
        return key

    def _create(self, path: Path) -> BinaryIO:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("xb")

    async def make_permanent(self, key: str, did: str, cid: CID) -> None:
        await asyncio.to_thread(self._make_permanent, self.temp_path(key), self.blob_path(did, cid))

    def _make_permanent(self, src: Path, dst: Path) -> None:
        if dst.exists():
            return
        if not src.exists():
            raise BlobNotFoundError(f"Could not find blob: {dst.name}")
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except FileExistsError:
            return
        except FileNotFoundError:
            raise BlobNotFoundError(f"Could not find blob: {dst.name}") from None
        except OSError as exc:
            if exc.errno not in _LINK_UNSUPPORTED:
                raise
            _copy_atomically(src, dst, self.sync)

    # -- reading -------------------------------------------------------------------------------

    async def has(self, did: str, cid: CID) -> bool:
        return await asyncio.to_thread(self.blob_path(did, cid).is_file)

    async def has_temp(self, key: str) -> bool:
        return await asyncio.to_thread(self.temp_path(key).is_file)

    def local_path(self, did: str, cid: CID) -> Path | None:
        return self.blob_path(did, cid)

    async def get_stream(self, did: str, cid: CID) -> AsyncIterator[bytes]:
        path = self.blob_path(did, cid)
        try:
            fh = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise BlobNotFoundError("Blob not found") from None
        return self._chunks(fh)

    @staticmethod
    async def _chunks(fh: BinaryIO) -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(fh.read, READ_CHUNK):
                yield chunk
        finally:
            fh.close()

    # -- deleting ------------------------------------------------------------------------------

    async def delete(self, did: str, cids: Iterable[CID]) -> None:
        paths = [self.blob_path(did, cid) for cid in cids]
        if paths:
            await asyncio.to_thread(_unlink_all, paths)

    async def delete_temp(self, keys: Iterable[str]) -> None:
        paths = [self.temp_path(key) for key in keys]
        if paths:
            await asyncio.to_thread(_unlink_all, paths)

    async def delete_account(self, did: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self.account_dir(did), True)

    async def temp_keys_older_than(self, seconds: float) -> list[str]:
        return await asyncio.to_thread(self._old_temp_keys, time.time() - seconds)

    def _old_temp_keys(self, cutoff: float) -> list[str]:
        try:
            entries = list(os.scandir(self.temp_dir))
        except FileNotFoundError:
            return []
        old = []
        for entry in entries:
            if not _KEY.fullmatch(entry.name):
                continue
            try:
                if entry.stat().st_mtime < cutoff:
                    old.append(entry.name)
            except FileNotFoundError:
                continue
        return old


def _unlink_all(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
