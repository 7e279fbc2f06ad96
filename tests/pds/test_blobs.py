"""Blobs over HTTP on both databases: upload, reference by records, serving, listing, clean-up."""

from __future__ import annotations

import base64
import os
import struct
import zlib
from pathlib import Path
from typing import Any, Literal

from sonet.pds.accounts.lifecycle import delete_account
from sonet.pds.accounts.service import account_service
from sonet.pds.api.blobs import blob_service
from sonet.pds.blobs.disk_store import DiskBlobStore
from sonet.pds.blobs.errors import BlobNotFoundError, InvalidMimeTypeError, InvalidSizeError
from sonet.pds.blobs.service import BlobService
from sonet.pds.repo_writes import WriteRequest, prepare_write
from sonet.repo.cid import CID, cid_for_raw, parse_cid
from sonet.storage.pds_blob_store import blob, record_blob
from tests.pds.conftest import PdsFactory, RunningPds, create_test_account

AREA = "sonet.pds.api.blobs"
UPLOAD = "/xrpc/com.atproto.repo.uploadBlob"
GET = "/xrpc/com.atproto.sync.getBlob"
LIST = "/xrpc/com.atproto.sync.listBlobs"
PROFILE = "app.bsky.actor.profile"
POST = "app.bsky.feed.post"
ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-pass").decode()}


def png(seed: int = 0) -> bytes:
    """A small valid PNG; ``seed`` varies its pixels (and so its CID)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 2, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(bytes([0, seed % 256, seed // 256 % 256]))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def auth(pds: RunningPds, did: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {pds.ctx.tokens.create_access(did)}"}


async def upload(pds: RunningPds, did: str, data: bytes, mime: str = "image/png") -> dict[str, Any]:
    resp = await pds.client.post(
        UPLOAD, data=data, headers={**auth(pds, did), "Content-Type": mime}
    )
    body = await resp.json()
    assert resp.status == 200, body
    ref: dict[str, Any] = body["blob"]
    assert ref["$type"] == "blob" and ref["size"] == len(data)
    assert ref["ref"] == {"$link": cid_for_raw(data).encode()}
    return ref


def as_record_ref(ref: dict[str, Any]) -> dict[str, Any]:
    """The JSON blob ref in its data-model form (as a record holds it)."""
    return {**ref, "ref": parse_cid(ref["ref"]["$link"])}


def profile(avatar: dict[str, Any] | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"$type": PROFILE, "displayName": "Alice"}
    if avatar is not None:
        record["avatar"] = as_record_ref(avatar)
    return record


def post_with_images(*images: dict[str, Any]) -> dict[str, Any]:
    return {
        "$type": POST,
        "text": "look",
        "createdAt": "2026-11-22T00:00:00.000Z",
        "embed": {
            "$type": "app.bsky.embed.images",
            "images": [{"image": as_record_ref(i), "alt": ""} for i in images],
        },
    }


async def put_profile(
    pds: RunningPds, did: str, record: dict[str, Any], action: Literal["create", "update"]
) -> None:
    await pds.ctx.repos.apply_writes(did, [WriteRequest(action, PROFILE, "self", record)])


async def blob_rows(pds: RunningPds) -> list[tuple[str, str, str | None]]:
    async with pds.ctx.db.read() as conn:
        rows = (await conn.execute(blob.select().order_by(blob.c.cid))).all()
    return [(r.did, r.cid, r.temp_key) for r in rows]


async def reference_rows(pds: RunningPds) -> list[tuple[str, str, str]]:
    async with pds.ctx.db.read() as conn:
        rows = (await conn.execute(record_blob.select())).all()
    return sorted((r.collection, r.rkey, r.cid) for r in rows)


def service(pds: RunningPds) -> BlobService:
    return blob_service(pds.ctx)


def stored(pds: RunningPds, did: str, ref: dict[str, Any]) -> bool:
    path = service(pds).store.local_path(did, parse_cid(ref["ref"]["$link"]))
    return path is not None and path.exists()


def temp_files(pds: RunningPds) -> list[str]:
    temp = pds.ctx.config.blobs_dir / "tmp"
    return sorted(p.name for p in temp.iterdir()) if temp.exists() else []


async def get_blob(
    pds: RunningPds, did: str, cid: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes, Any]:
    resp = await pds.client.get(GET, params={"did": did, "cid": cid}, headers=headers or {})
    return resp.status, await resp.read(), resp.headers


async def test_upload_reference_and_get(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    did, _ = await create_test_account(pds.ctx, "alice.test")
    data = png()
    ref = await upload(pds, did, data)
    assert ref["mimeType"] == "image/png"
    cid = ref["ref"]["$link"]
    # a temporary blob is not served yet
    status, body, _ = await get_blob(pds, did, cid)
    assert status == 400 and b"Blob not found" in body
    assert [row[2] is not None for row in await blob_rows(pds)] == [True]
    await put_profile(pds, did, profile(ref), "create")
    assert [row[2] for row in await blob_rows(pds)] == [None]
    assert await reference_rows(pds) == [(PROFILE, "self", cid)]
    await service(pds).flush()
    assert temp_files(pds) == []
    status, body, headers = await get_blob(pds, did, cid)
    assert status == 200 and body == data
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Length"] == str(len(data))
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert headers["content-disposition"] == f'attachment; filename="{cid}"'
    resp = await pds.client.head(GET, params={"did": did, "cid": cid})
    assert resp.status == 200 and await resp.read() == b""
    # uploading the same bytes again answers the stored blob and keeps it permanent
    again = await upload(pds, did, data, "application/octet-stream")
    assert again == ref
    await service(pds).flush()
    assert [row[2] for row in await blob_rows(pds)] == [None] and temp_files(pds) == []


async def test_mime_is_sniffed_and_references_must_match(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    did, _ = await create_test_account(pds.ctx, "alice.test")
    ref = await upload(pds, did, png(1), "image/jpeg")
    assert ref["mimeType"] == "image/png"
    text = await upload(pds, did, b"just some text", "text/plain; charset=utf-8")
    assert text["mimeType"] == "text/plain"
    head = await pds.ctx.repos.head(did)
    for wrong, error in (
        ({**ref, "mimeType": "image/jpeg"}, InvalidMimeTypeError),
        ({**ref, "size": ref["size"] + 1}, InvalidSizeError),
    ):
        try:
            await put_profile(pds, did, profile(wrong), "create")
        except error as exc:
            assert exc.status == 400
            assert exc.error in ("InvalidMimeType", "InvalidSize")
        else:
            raise AssertionError("the commit should be refused")
    assert (await pds.ctx.repos.head(did)).commit_cid == head.commit_cid
    assert await reference_rows(pds) == []
    assert all(row[2] is not None for row in await blob_rows(pds))


async def test_oversize_upload_is_refused_and_nothing_kept(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA], blob_upload_limit=10_000)
    did, _ = await create_test_account(pds.ctx, "alice.test")
    big = os.urandom(10_001)
    headers = {**auth(pds, did), "Content-Type": "image/png"}
    resp = await pds.client.post(UPLOAD, data=big, headers=headers)
    assert resp.status == 413
    assert (await resp.json())["error"] == "PayloadTooLarge"

    async def chunked() -> Any:  # no Content-Length: cut off while streaming
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    resp = await pds.client.post(UPLOAD, data=chunked(), headers=headers)
    assert resp.status == 413
    assert await blob_rows(pds) == [] and temp_files(pds) == []
    await upload(pds, did, big[:10_000])  # exactly the limit is fine


async def test_unknown_or_foreign_blob_refuses_the_commit(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    alice, _ = await create_test_account(pds.ctx, "alice.test")
    bob, _ = await create_test_account(pds.ctx, "bob.test")
    bobs = await upload(pds, bob, png(2))
    never = {**bobs, "ref": {"$link": cid_for_raw(b"never uploaded").encode()}}
    head = await pds.ctx.repos.head(alice)
    for ref in (never, bobs):
        try:
            await pds.ctx.repos.apply_writes(
                alice,
                [
                    WriteRequest("create", POST, None, post_with_images()),
                    WriteRequest("create", PROFILE, "self", profile(ref)),
                ],
            )
        except BlobNotFoundError as exc:
            assert (exc.status, exc.error) == (400, "BlobNotFound")
            assert str(exc) == f"Could not find blob: {ref['ref']['$link']}"
        else:
            raise AssertionError("the commit should be refused")
    assert (await pds.ctx.repos.head(alice)).commit_cid == head.commit_cid
    async with pds.ctx.db.read() as conn:
        assert await pds.ctx.repos.store.get_record(conn, alice, PROFILE, "self") is None
    assert await reference_rows(pds) == []
    assert [(r[0], r[2] is not None) for r in await blob_rows(pds)] == [(bob, True)]
    # another account's blob is not served under this account either
    await put_profile(pds, bob, profile(bobs), "create")
    status, body, _ = await get_blob(pds, alice, bobs["ref"]["$link"])
    assert status == 400 and b"Blob not found" in body
    status, _, _ = await get_blob(pds, bob, bobs["ref"]["$link"])
    assert status == 200


async def test_blobs_go_with_their_last_reference(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    did, _ = await create_test_account(pds.ctx, "alice.test")
    first, second, shared = [await upload(pds, did, png(i)) for i in (10, 11, 12)]
    await put_profile(pds, did, profile(first), "create")
    results = await pds.ctx.repos.apply_writes(
        did,
        [
            WriteRequest("create", POST, None, post_with_images(shared)),
            WriteRequest("create", POST, None, post_with_images(shared, second, second)),
        ],
    )
    rkeys = [r.uri.rsplit("/", 1)[1] for r in results.results]
    assert len(await blob_rows(pds)) == 3
    # an update that keeps the avatar keeps the blob
    await put_profile(pds, did, {**profile(first), "displayName": "A."}, "update")
    await service(pds).flush()
    assert stored(pds, did, first)
    # replacing the avatar drops the old blob
    await put_profile(pds, did, profile(None), "update")
    await service(pds).flush()
    assert not stored(pds, did, first)
    assert first["ref"]["$link"] not in {r[1] for r in await blob_rows(pds)}
    # a blob shared by two posts stays until both are gone
    await pds.ctx.repos.apply_writes(did, [WriteRequest("delete", POST, rkeys[1])])
    await service(pds).flush()
    assert stored(pds, did, shared) and not stored(pds, did, second)
    await pds.ctx.repos.apply_writes(did, [WriteRequest("delete", POST, rkeys[0])])
    await service(pds).flush()
    assert not stored(pds, did, shared)
    assert await blob_rows(pds) == [] and await reference_rows(pds) == []
    status, _, _ = await get_blob(pds, did, shared["ref"]["$link"])
    assert status == 400


async def test_expired_temporary_blobs_are_collected(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    did, _ = await create_test_account(pds.ctx, "alice.test")
    kept = await upload(pds, did, png(20))
    await put_profile(pds, did, profile(kept), "create")
    await upload(pds, did, png(21))
    blobs = service(pds)
    assert await blobs.collect_garbage() == 0
    assert len(await blob_rows(pds)) == 2
    stray = pds.ctx.config.blobs_dir / "tmp" / ("ab" * 16)
    stray.write_bytes(b"left by a crash")
    blobs.temp_max_age = 0.0
    assert await blobs.collect_garbage() == 1
    assert [r[1] for r in await blob_rows(pds)] == [kept["ref"]["$link"]]
    assert temp_files(pds) == []
    assert stored(pds, did, kept)


async def test_expired_blob_can_not_be_referenced(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    did, _ = await create_test_account(pds.ctx, "alice.test")
    ref = await upload(pds, did, png(30))
    service(pds).temp_max_age = 0.0
    await service(pds).collect_garbage()
    try:
        await put_profile(pds, did, profile(ref), "create")
    except BlobNotFoundError:
        pass
    else:
        raise AssertionError("an expired upload must not be referenced")


async def test_list_blobs_pages_and_since(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    did, _ = await create_test_account(pds.ctx, "alice.test")
    refs = [await upload(pds, did, png(40 + i)) for i in range(5)]
    await upload(pds, did, png(99))  # never referenced: not listed
    for ref in refs[:3]:
        await pds.ctx.repos.apply_writes(
            did, [WriteRequest("create", POST, None, post_with_images(ref))]
        )
    since = (await pds.ctx.repos.head(did)).rev
    await pds.ctx.repos.apply_writes(
        did, [WriteRequest("create", POST, None, post_with_images(*refs[3:]))]
    )
    everything = sorted(r["ref"]["$link"] for r in refs)
    pages: list[str] = []
    cursor: str | None = None
    while True:
        params = {"did": did, "limit": "2", **({"cursor": cursor} if cursor else {})}
        resp = await pds.client.get(LIST, params=params)
        assert resp.status == 200
        out = await resp.json()
        pages.extend(out["cids"])
        if not out["cids"]:
            assert "cursor" not in out
            break
        assert out["cursor"] == out["cids"][-1]
        cursor = out["cursor"]
    assert pages == everything
    resp = await pds.client.get(LIST, params={"did": did, "since": since})
    assert (await resp.json())["cids"] == sorted(r["ref"]["$link"] for r in refs[3:])
    resp = await pds.client.get(LIST, params={"did": "did:plc:nobodynobodynobodynobody"})
    assert resp.status == 400 and (await resp.json())["error"] == "RepoNotFound"


async def test_availability_and_auth(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    did, _ = await create_test_account(pds.ctx, "alice.test")
    other, _ = await create_test_account(pds.ctx, "bob.test")
    ref = await upload(pds, did, png(50))
    await put_profile(pds, did, profile(ref), "create")
    cid = ref["ref"]["$link"]
    resp = await pds.client.post(UPLOAD, data=b"x", headers={"Content-Type": "image/png"})
    assert resp.status == 401 and (await resp.json())["error"] == "AuthMissing"
    resp = await pds.client.post(
        UPLOAD, data=b"x", headers=auth(pds, did), skip_auto_headers=["Content-Type"]
    )
    assert resp.status == 400  # no Content-Type
    status, body, _ = await get_blob(pds, "did:plc:nobodynobodynobodynobody", cid)
    assert status == 400 and b"RepoNotFound" in body
    status, body, _ = await get_blob(pds, did, "not-a-cid")
    assert status == 400
    async with pds.ctx.db.write() as conn:
        await pds.ctx.accounts.store.set_fields(conn, did, takedown_ref="mod-1", status="takendown")
    status, body, _ = await get_blob(pds, did, cid)
    assert status == 400 and b"RepoTakendown" in body
    status, _, _ = await get_blob(pds, did, cid, auth(pds, other))
    assert status == 400
    for headers in (ADMIN, auth(pds, did)):
        status, _, _ = await get_blob(pds, did, cid, headers)
        assert status == 200
    resp = await pds.client.post(
        UPLOAD, data=png(51), headers={**auth(pds, did), "Content-Type": "image/png"}
    )
    assert resp.status == 401 and (await resp.json())["error"] == "AccountTakedown"


async def test_taken_down_blob_is_hidden_and_not_uploaded_again(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    did, _ = await create_test_account(pds.ctx, "alice.test")
    data = png(60)
    ref = await upload(pds, did, data)
    await put_profile(pds, did, profile(ref), "create")
    cid = parse_cid(ref["ref"]["$link"])
    assert (await service(pds).set_takedown(did, cid, "mod-2")).takedown_ref == "mod-2"
    assert (await service(pds).status(did, cid)).takedown_ref == "mod-2"
    status, _, _ = await get_blob(pds, did, ref["ref"]["$link"])
    assert status == 400
    try:
        await put_profile(pds, did, {**profile(ref), "displayName": "again"}, "update")
    except BlobNotFoundError:
        pass
    else:
        raise AssertionError("a taken-down blob can not be referenced")
    resp = await pds.client.post(
        UPLOAD, data=data, headers={**auth(pds, did), "Content-Type": "image/png"}
    )
    assert resp.status == 400
    assert (await resp.json())["message"] == "Blob has been takendown, cannot re-upload"
    assert temp_files(pds) == []
    await service(pds).set_takedown(did, cid, None)
    status, body, _ = await get_blob(pds, did, ref["ref"]["$link"])
    assert status == 200 and body == data
    try:
        await service(pds).status(did, cid_for_raw(b"nothing"))
    except BlobNotFoundError:
        pass
    else:
        raise AssertionError("no such blob")


async def test_close_flushes_pending_deletions(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    did, _ = await create_test_account(pds.ctx, "alice.test")
    ref = await upload(pds, did, png(70))
    await put_profile(pds, did, profile(ref), "create")
    await pds.ctx.repos.apply_writes(did, [WriteRequest("delete", PROFILE, "self")])
    await service(pds).close()
    assert not stored(pds, did, ref)


async def test_imported_references_wait_for_their_uploads(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    did, _ = await create_test_account(pds.ctx, "alice.test")
    data = png(80)
    cid = cid_for_raw(data)
    ref = {
        "$type": "blob",
        "ref": {"$link": cid.encode()},
        "mimeType": "image/png",
        "size": len(data),
    }
    write = prepare_write(
        pds.ctx.lexicons, WriteRequest("create", PROFILE, "self", profile(ref)), None
    )
    async with pds.ctx.sequencer.transaction() as tx:
        await service(pds).on_import(tx, did, [write], [])
    assert await service(pds).counts(did) == (1, 0)
    resp = await pds.client.get("/xrpc/com.atproto.repo.listMissingBlobs", headers=auth(pds, did))
    out = await resp.json()
    assert out == {
        "blobs": [{"cid": cid.encode(), "recordUri": f"at://{did}/{PROFILE}/self"}],
        "cursor": cid.encode(),
    }
    await upload(pds, did, data)  # referenced already: permanent at once
    assert [row[2] for row in await blob_rows(pds)] == [None]
    assert await service(pds).counts(did) == (1, 1)
    resp = await pds.client.get("/xrpc/com.atproto.repo.listMissingBlobs", headers=auth(pds, did))
    assert await resp.json() == {"blobs": []}
    status, body, _ = await get_blob(pds, did, cid.encode())
    assert status == 200 and body == data


async def test_uploading_a_temporary_blob_again_keeps_one(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    did, _ = await create_test_account(pds.ctx, "alice.test")
    data = png(90)
    await upload(pds, did, data)
    (first_key,) = temp_files(pds)
    ref = await upload(pds, did, data)
    await service(pds).flush()
    rows = await blob_rows(pds)
    assert len(rows) == 1 and rows[0][2] != first_key
    assert temp_files(pds) == [rows[0][2]]
    await put_profile(pds, did, profile(ref), "create")
    await service(pds).flush()
    assert temp_files(pds) == [] and stored(pds, did, ref)


class StreamOnlyStore(DiskBlobStore):
    """A disk store that offers no local files, like a remote (S3-compatible) store."""

    def local_path(self, did: str, cid: CID) -> Path | None:
        return None


async def test_get_blob_streams_from_stores_without_files(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    did, _ = await create_test_account(pds.ctx, "alice.test")
    data = png(95) + os.urandom(700_000)
    ref = await upload(pds, did, data)
    await put_profile(pds, did, profile(ref), "create")
    service(pds).store = StreamOnlyStore(pds.ctx.config.blobs_dir)
    status, body, headers = await get_blob(pds, did, ref["ref"]["$link"])
    assert status == 200 and body == data
    assert headers["Content-Length"] == str(len(data))
    assert headers["Content-Type"] == "image/png"
    assert headers["x-content-type-options"] == "nosniff"
    await service(pds).store.delete(did, [parse_cid(ref["ref"]["$link"])])
    status, body, _ = await get_blob(pds, did, ref["ref"]["$link"])
    assert status == 400 and b"Blob not found" in body


async def test_account_deletion_removes_its_blobs(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    did, _ = await create_test_account(pds.ctx, "alice.test")
    bob, _ = await create_test_account(pds.ctx, "bob.test")
    ref = await upload(pds, did, png(100))
    await put_profile(pds, did, profile(ref), "create")
    await upload(pds, did, png(101))
    bobs = await upload(pds, bob, png(102))
    await put_profile(pds, bob, profile(bobs), "create")
    accounts = account_service(pds.ctx)
    assert accounts.blob_counts is not None
    assert await accounts.blob_counts(did) == (1, 2)
    await delete_account(accounts, did)
    await service(pds).flush()
    assert [r[0] for r in await blob_rows(pds)] == [bob]
    store = service(pds).store
    assert isinstance(store, DiskBlobStore) and not store.account_dir(did).exists()
    assert stored(pds, bob, bobs)
