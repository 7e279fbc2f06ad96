"""Receiving an upload: its CID, size and sniffed type, computed while it streams to the store.

https://atproto.com/specs/blob: a blob's CID is CIDv1 with the ``raw`` codec and a SHA-256
multihash of its bytes. The bytes pass through once, chunk by chunk, so a large upload never
sits whole in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from sonet.pds.blobs.sniff import SNIFF_BYTES, sniff_mime
from sonet.pds.blobs.store import BlobStore
from sonet.repo.cid import CID

__all__ = ["UploadedBlob", "receive_upload"]


@dataclass(frozen=True, slots=True)
class UploadedBlob:
    """A finished upload held under a temporary key."""

    temp_key: str
    cid: CID
    size: int
    mime_type: str


class _Meter:
    """Hashes, counts and keeps the head of the bytes flowing through :meth:`passing`."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.size = 0
        self.head = bytearray()

    async def passing(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self.hash.update(chunk)
            self.size += len(chunk)
            if len(self.head) < SNIFF_BYTES:
                self.head += chunk[: SNIFF_BYTES - len(self.head)]
            yield chunk


async def receive_upload(
    store: BlobStore, chunks: AsyncIterable[bytes], declared_mime: str
) -> UploadedBlob:
    """Stream ``chunks`` into ``store``; the type is sniffed, else ``declared_mime``."""
    meter = _Meter()
    key = await store.put_temp(meter.passing(chunks))
    cid = CID(CID.CIDV1_RAW_SHA256_32_PFX + meter.hash.digest())
    mime = sniff_mime(bytes(meter.head)) or declared_mime
    return UploadedBlob(key, cid, meter.size, mime)
