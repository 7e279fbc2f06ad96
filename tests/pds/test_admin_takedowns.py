"""Admin takedowns of single records and blobs (com.atproto.admin.updateSubjectStatus and
getSubjectStatus with strongRef and repoBlobRef subjects) on both databases, and what the read
methods answer for them, as the reference PDS does; the schema step adding the record column."""

from __future__ import annotations

import json
from typing import Any

from sonet.pds.repo_writes import WriteRequest
from sonet.repo.car import read_car
from sonet.storage import pds_repo_store
from sonet.storage.database import Database
from sonet.storage.migrations import migrate
from tests.pds.conftest import PdsFactory, RunningPds, create_test_account
from tests.pds.old_schema import column_names, step_one_without
from tests.pds.test_blobs import ADMIN, UPLOAD, auth, get_blob, png, post_with_images, upload
from tests.pds.test_sync_support import fails, ok, post

A = "com.atproto.admin."
R = "com.atproto.repo."
POST = "app.bsky.feed.post"
STRONG_REF = "com.atproto.repo.strongRef"
BLOB_REF = "com.atproto.admin.defs#repoBlobRef"
AREAS = [
    "sonet.pds.api.repo",
    "sonet.pds.api.sync",
    "sonet.pds.api.blobs",
    "sonet.pds.api.admin",
]


async def admin(pds: RunningPds, name: str, **kwargs: Any) -> Any:
    return await ok(pds, A + name, headers=ADMIN, **kwargs)


async def listed(pds: RunningPds, did: str, **params: Any) -> list[str]:
    out = await ok(pds, R + "listRecords", params={"repo": did, "collection": POST, **params})
    return [r["uri"].rsplit("/", 1)[1] for r in out["records"]]


async def test_record_takedown(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=AREAS)
    did, _ = await create_test_account(pds.ctx, "alice.test")
    rkeys = []
    for text in ("one", "two", "three"):
        body = {"repo": did, "collection": POST, "record": post(text)}
        rkeys.append((await ok(pds, R + "createRecord", body=body, as_did=did))["uri"])
    uri = rkeys[1]
    rkey = uri.rsplit("/", 1)[1]
    where = {"repo": did, "collection": POST, "rkey": rkey}
    cid = (await ok(pds, R + "getRecord", params=where))["cid"]
    status = await admin(pds, "getSubjectStatus", params={"uri": uri})
    assert status == {
        "subject": {"$type": STRONG_REF, "uri": uri, "cid": cid},
        "takedown": {"applied": False},
    }

    subject = {"$type": STRONG_REF, "uri": uri, "cid": cid}
    body = {"subject": subject, "takedown": {"applied": True, "ref": "ticket-9"}}
    assert await admin(pds, "updateSubjectStatus", body=body) == body
    status = await admin(pds, "getSubjectStatus", params={"uri": uri})
    assert status["takedown"] == {"applied": True, "ref": "ticket-9"}
    # repo.getRecord and listRecords no longer serve it (the reference's answers)
    message = await fails(pds, R + "getRecord", 400, "RecordNotFound", params=where)
    assert message == f"Could not locate record: {uri}"
    assert await listed(pds, did) == [k.rsplit("/", 1)[1] for k in (rkeys[2], rkeys[0])]
    assert await listed(pds, did, limit=1, cursor=rkeys[2].rsplit("/", 1)[1]) == [
        rkeys[0].rsplit("/", 1)[1]
    ]
    # it stays in the repository, so sync.getRecord still proves it, as in the reference PDS
    params = {"did": did, "collection": POST, "rkey": rkey}
    proof = read_car(await ok(pds, "com.atproto.sync.getRecord", params=params))
    assert cid in {c.encode() for c in proof.blocks}
    # an update keeps the takedown; restoring it serves the record again
    put = {**where, "record": post("two, edited")}
    await ok(pds, R + "putRecord", body=put, as_did=did)
    await fails(pds, R + "getRecord", 400, "RecordNotFound", params=where)
    body = {"subject": subject, "takedown": {"applied": False}}
    await admin(pds, "updateSubjectStatus", body=body)
    assert (await ok(pds, R + "getRecord", params=where))["value"]["text"] == "two, edited"
    assert len(await listed(pds, did)) == 3
    # a takedown without a ref is stamped with the time
    body = {"subject": subject, "takedown": {"applied": True}}
    await admin(pds, "updateSubjectStatus", body=body)
    status = await admin(pds, "getSubjectStatus", params={"uri": uri})
    assert status["takedown"]["ref"].endswith("Z")

    # absent records: updating changes nothing, the status is NotFound
    absent = f"at://{did}/{POST}/3jzfcijpj2z2a"
    gone = {"$type": STRONG_REF, "uri": absent, "cid": cid}
    await admin(pds, "updateSubjectStatus", body={"subject": gone, "takedown": {"applied": True}})
    for missing in (absent, f"at://did:plc:{'z' * 24}/{POST}/3jzfcijpj2z2a"):
        out = await fails(
            pds, A + "getSubjectStatus", 400, "NotFound", params={"uri": missing}, headers=ADMIN
        )
        assert out == "Subject not found"


async def test_blob_takedown(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=AREAS)
    did, _ = await create_test_account(pds.ctx, "alice.test")
    ref = await upload(pds, did, png(3))
    cid = ref["ref"]["$link"]
    await pds.ctx.repos.apply_writes(
        did, [WriteRequest("create", POST, None, post_with_images(ref))]
    )
    assert (await get_blob(pds, did, cid))[0] == 200

    params = {"did": did, "blob": cid}
    subject = {"$type": BLOB_REF, "did": did, "cid": cid}
    status = await admin(pds, "getSubjectStatus", params=params)
    assert status == {"subject": subject, "takedown": {"applied": False}}
    body = {"subject": subject, "takedown": {"applied": True, "ref": "ticket-10"}}
    assert await admin(pds, "updateSubjectStatus", body=body) == body
    status = await admin(pds, "getSubjectStatus", params=params)
    assert status["takedown"] == {"applied": True, "ref": "ticket-10"}
    # sync.getBlob answers the reference's error, also to the admin
    for headers in (None, ADMIN):
        code, data, _ = await get_blob(pds, did, cid, headers)
        assert (code, json.loads(data)) == (
            400,
            {"error": "InvalidRequest", "message": "Blob not found"},
        )
    # nor may it be uploaded again
    resp = await pds.client.post(
        UPLOAD, data=png(3), headers={**auth(pds, did), "Content-Type": "image/png"}
    )
    assert resp.status == 400
    assert (await resp.json())["message"] == "Blob has been takendown, cannot re-upload"
    body = {"subject": subject, "takedown": {"applied": False}}
    await admin(pds, "updateSubjectStatus", body=body)
    assert (await get_blob(pds, did, cid))[0] == 200

    # a did is needed; unknown blobs are NotFound and taking them down changes nothing
    message = await fails(
        pds, A + "getSubjectStatus", 400, "InvalidRequest", params={"blob": cid}, headers=ADMIN
    )
    assert message == "Must provide a did to request blob state"
    other = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
    unknown = {"$type": BLOB_REF, "did": did, "cid": other}
    await admin(
        pds, "updateSubjectStatus", body={"subject": unknown, "takedown": {"applied": True}}
    )
    await fails(
        pds,
        A + "getSubjectStatus",
        400,
        "NotFound",
        params={"did": did, "blob": other},
        headers=ADMIN,
    )


async def test_record_column_added_to_an_older_table(database: Database) -> None:
    await step_one_without(database, "pds_repo", pds_repo_store.record, "takedown_ref")
    assert await migrate(database, "pds_repo", pds_repo_store.MIGRATIONS) == 2
    assert "takedown_ref" in await column_names(database, "record")
