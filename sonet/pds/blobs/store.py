"""Where blob bytes live: the interface every blob store (disk, S3-compatible...) implements.

https://atproto.com/specs/blob: an upload is kept under a random *temporary key* until a record
references it; it is then made permanent under the account's DID and the blob's CID. Metadata
(MIME type, size, references) is kept in the database, not here: a store only holds bytes.
Copying into permanent storage must not remove the temporary copy (the database transaction
that asks for it may still roll back); the caller deletes temporary keys once it has committed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from pathlib import Path

from sonet.repo.cid import CID

__all__ = ["BlobStore"]


class BlobStore(ABC):
    """Bytes of temporary uploads and of permanent blobs, per account."""

    @abstractmethod
    async def put_temp(self, chunks: AsyncIterable[bytes]) -> str:
        """Store an upload streamed as ``chunks``; returns its new temporary key.

        Nothing is left behind if ``chunks`` raises (a client that went away, a size limit).
        """

    @abstractmethod
    async def make_permanent(self, key: str, did: str, cid: CID) -> None:
        """Copy the temporary upload ``key`` to ``did``'s blob ``cid`` (kept if already there).

        Raises :class:`~sonet.pds.blobs.errors.BlobNotFoundError` if ``key`` is not stored.
        """

    @abstractmethod
    async def has(self, did: str, cid: CID) -> bool:
        """True if ``did``'s blob ``cid`` is stored permanently."""

    @abstractmethod
    async def has_temp(self, key: str) -> bool:
        """True if the temporary upload ``key`` is stored."""

    @abstractmethod
    async def get_stream(self, did: str, cid: CID) -> AsyncIterator[bytes]:
        """The bytes of ``did``'s blob ``cid`` in chunks.

        Raises :class:`~sonet.pds.blobs.errors.BlobNotFoundError` right away (before any chunk)
        if it is not stored.
        """

    def local_path(self, did: str, cid: CID) -> Path | None:
        """A local file holding the blob, if the store has one (lets servers use sendfile)."""
        return None

    @abstractmethod
    async def delete(self, did: str, cids: Iterable[CID]) -> None:
        """Delete permanent blobs of ``did`` (missing ones are ignored)."""

    @abstractmethod
    async def delete_temp(self, keys: Iterable[str]) -> None:
        """Delete temporary uploads (missing ones are ignored)."""

    @abstractmethod
    async def delete_account(self, did: str) -> None:
        """Delete every permanent blob of ``did``."""

    @abstractmethod
    async def temp_keys_older_than(self, seconds: float) -> list[str]:
        """Keys of temporary uploads stored more than ``seconds`` ago."""
