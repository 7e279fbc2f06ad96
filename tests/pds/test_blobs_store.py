"""The disk blob store and the streaming upload intake, on a real file system."""

from __future__ import annotations

import errno
import hashlib
import os
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sonet.pds.blobs.disk_store import DiskBlobStore
from sonet.pds.blobs.errors import BlobNotFoundError, InvalidBlobKeyError
from sonet.pds.blobs.intake import receive_upload
from sonet.repo.cid import cid_for_raw

DID = "did:plc:alice4alice4alice4alice4"
WEB_DID = "did:web:localhost%3A2583"


async def chunks_of(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def failing_after(data: bytes) -> AsyncIterator[bytes]:
    yield data
    raise ConnectionResetError("client went away")


async def collect(store: DiskBlobStore, did: str, data_cid: object) -> bytes:
    stream = await store.get_stream(did, data_cid)  # type: ignore[arg-type]
    return b"".join([chunk async for chunk in stream])


async def test_upload_then_permanent_then_delete(tmp_path: Path) -> None:
    store = DiskBlobStore(tmp_path / "blobs")
    data = os.urandom(300_000)
    up = await receive_upload(store, chunks_of(data), "application/octet-stream")
    assert up.cid == cid_for_raw(data) and up.size == len(data)
    assert up.mime_type == "application/octet-stream"
    assert await store.has_temp(up.temp_key) and not await store.has(DID, up.cid)
    await store.make_permanent(up.temp_key, DID, up.cid)
    await store.make_permanent(up.temp_key, DID, up.cid)  # idempotent
    assert await store.has_temp(up.temp_key), "the temporary copy stays until deleted"
    assert await collect(store, DID, up.cid) == data
    await store.delete_temp([up.temp_key])
    assert await collect(store, DID, up.cid) == data
    path = store.local_path(DID, up.cid)
    assert path is not None and path.read_bytes() == data
    await store.delete(DID, [up.cid])
    await store.delete(DID, [up.cid])  # missing ones are ignored
    with pytest.raises(BlobNotFoundError):
        await store.get_stream(DID, up.cid)
    with pytest.raises(BlobNotFoundError):
        await store.make_permanent(up.temp_key, DID, up.cid)


async def test_layout_is_sharded_per_account(tmp_path: Path) -> None:
    store = DiskBlobStore(tmp_path)
    cid = cid_for_raw(b"x")
    path = store.blob_path(WEB_DID, cid)
    shard = hashlib.sha256(WEB_DID.encode()).hexdigest()[:2]
    assert path == tmp_path / "blocks" / shard / "did_web_localhost%3A2583" / cid.encode()
    assert store.account_dir(DID) != store.account_dir(WEB_DID)


async def test_failed_upload_leaves_nothing(tmp_path: Path) -> None:
    store = DiskBlobStore(tmp_path)
    with pytest.raises(ConnectionResetError):
        await store.put_temp(failing_after(b"partial bytes"))
    assert list((tmp_path / "tmp").iterdir()) == []


async def test_copy_fallback_when_links_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DiskBlobStore(tmp_path)
    data = os.urandom(10_000)
    key = await store.put_temp(chunks_of(data))

    def no_links(_src: object, _dst: object) -> None:
        raise OSError(errno.EXDEV, "cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    cid = cid_for_raw(data)
    await store.make_permanent(key, DID, cid)
    assert await collect(store, DID, cid) == data
    assert [p.name for p in store.account_dir(DID).iterdir()] == [cid.encode()]  # no .part


async def test_old_temp_keys_and_account_deletion(tmp_path: Path) -> None:
    store = DiskBlobStore(tmp_path)
    old = await store.put_temp(chunks_of(b"old"))
    new = await store.put_temp(chunks_of(b"new"))
    hour_ago = time.time() - 3700
    os.utime(store.temp_path(old), (hour_ago, hour_ago))
    (tmp_path / "tmp" / "stray-file").write_bytes(b"not a key")
    assert await store.temp_keys_older_than(3600) == [old]
    await store.delete_temp([old, new])
    assert await store.temp_keys_older_than(0) == []
    await store.make_permanent(await store.put_temp(chunks_of(b"a")), DID, cid_for_raw(b"a"))
    await store.delete_account(DID)
    assert not store.account_dir(DID).exists()
    await store.delete_account(DID)


async def test_names_that_could_escape_are_refused(tmp_path: Path) -> None:
    store = DiskBlobStore(tmp_path)
    cid = cid_for_raw(b"x")
    for did in ("../../etc", "did:plc:../../x", "did:plc:a/b", ""):
        with pytest.raises(InvalidBlobKeyError):
            store.blob_path(did, cid)
    for key in ("../x", "ABC", "0" * 31, "0" * 32 + "/"):
        with pytest.raises(InvalidBlobKeyError):
            store.temp_path(key)


async def test_large_upload_streams_in_bounded_memory(tmp_path: Path) -> None:
    store = DiskBlobStore(tmp_path, sync=False)
    block = os.urandom(64 * 1024)
    count = 320  # 20 MiB

    async def body() -> AsyncIterator[bytes]:
        for _ in range(count):
            yield block

    tracemalloc.start()
    try:
        up = await receive_upload(store, body(), "video/mp4")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert up.size == count * len(block)
    assert store.temp_path(up.temp_key).stat().st_size == up.size
    assert peak < 4 * 1024 * 1024, peak
