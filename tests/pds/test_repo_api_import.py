"""describeRepo against a real PLC directory, and importRepo as in an account migration between
two PDSes (the export is signed by the old PDS's key, published in the DID document)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sonet.crypto import generate_keypair
from sonet.repo.car import car_bytes
from sonet.repo.cid import cid_for_raw
from sonet.repo.repo_car import verify_repo_car
from sonet.xrpc.frames import MessageFrame, decode_frame
from sonet.xrpc.tokens import AuthScope
from tests.pds.conftest import PdsFactory, RunningPds, create_test_account
from tests.pds.test_sync_support import (
    AREAS,
    add_account,
    bearer,
    fails,
    ok,
    plc_directory,
    post,
    register_did,
    set_status,
)

R = "com.atproto.repo"
POST = "app.bsky.feed.post"


async def import_car(pds: RunningPds, data: bytes, headers: dict[str, str]) -> tuple[int, object]:
    resp = await pds.client.post(
        f"/xrpc/{R}.importRepo",
        data=data,
        headers={**headers, "Content-Type": "application/vnd.ipld.car"},
    )
    body = await resp.read()
    return resp.status, (await resp.json() if body else None)


async def test_describe_repo(pds_factory: PdsFactory, tmp_path: Path) -> None:
    async with plc_directory(tmp_path) as plc:
        pds = await pds_factory(areas=AREAS, plc_url=plc)
        key = generate_keypair()
        did = await register_did(plc, key, "alice.test")
        await add_account(pds.ctx, did, "alice.test", key)
        other = await register_did(plc, key, "someone-else.test")
        await add_account(pds.ctx, other, "bob.test", key)
        body = {"repo": did, "collection": POST, "record": post("hi")}
        await ok(pds, f"{R}.createRecord", body=body, as_did=did)
        out = await ok(pds, f"{R}.describeRepo", params={"repo": "alice.test"})
        assert out["did"] == did and out["handle"] == "alice.test"
        assert out["handleIsCorrect"] is True
        assert out["didDoc"]["id"] == did
        assert out["collections"] == [POST]
        out = await ok(pds, f"{R}.describeRepo", params={"repo": other})
        assert out["handleIsCorrect"] is False and out["collections"] == []
        await fails(pds, f"{R}.describeRepo", 400, "RepoNotFound", params={"repo": "x.test"})
        await set_status(pds.ctx, other, "deactivated")
        await fails(pds, f"{R}.describeRepo", 400, "RepoDeactivated", params={"repo": other})
        unregistered, _ = await create_test_account(pds.ctx, "carol.test")
        message = await fails(
            pds, f"{R}.describeRepo", 400, "InvalidRequest", params={"repo": unregistered}
        )
        assert "Could not resolve DID" in message


async def test_import_repo_migration(pds_factory: PdsFactory, tmp_path: Path) -> None:
    async with plc_directory(tmp_path) as plc:
        old = await pds_factory(areas=AREAS, plc_url=plc)
        new = await pds_factory(areas=[*AREAS, "sonet.pds.api.blobs"], plc_url=plc)
        old_key, new_key = generate_keypair(), generate_keypair("p256")
        did = await register_did(plc, old_key, "alice.test")
        await add_account(old.ctx, did, "alice.test", old_key)
        for i in range(30):
            body = {"repo": did, "collection": POST, "record": post(f"post {i}")}
            await ok(old, f"{R}.createRecord", body=body, as_did=did)
        profile = {"repo": did, "collection": "app.bsky.actor.profile", "rkey": "self"}
        avatar: dict[str, Any] = {
            "$type": "blob",
            "ref": {"$link": cid_for_raw(b"not uploaded yet").encode()},
            "mimeType": "image/png",
            "size": 16,
        }
        record = {"displayName": "A", "avatar": avatar}
        await ok(old, f"{R}.putRecord", body={**profile, "record": record}, as_did=did)
        exported = await ok(old, "com.atproto.sync.getRepo", params={"did": did})

        await add_account(new.ctx, did, "alice.test", new_key)
        # the new account already has a record, which the import replaces
        body = {"repo": did, "collection": "com.example.gone", "rkey": "x", "record": {}}
        await ok(new, f"{R}.createRecord", body=body, as_did=did)
        before = new.ctx.sequencer.latest

        # refusals: no session, an app-password session, garbage, someone else's repo
        assert (await import_car(new, exported, {}))[0] == 401
        app_pass = bearer(new, did, scope=AuthScope.APP_PASS)
        assert (await import_car(new, exported, app_pass))[0] == 400
        status, out = await import_car(new, b"not a car", bearer(new, did))
        assert status == 400 and isinstance(out, dict) and out["error"] == "InvalidRequest"
        stranger, _ = await create_test_account(old.ctx, "stranger.test")
        foreign = await ok(old, "com.atproto.sync.getRepo", params={"did": stranger})
        status, out = await import_car(new, foreign, bearer(new, did))
        assert status == 400 and isinstance(out, dict) and "Invalid repo" in str(out["message"])
        assert new.ctx.sequencer.latest == before

        # the real import: signed by the old key, which the DID document still names
        status, out = await import_car(new, exported, bearer(new, did))
        assert status == 200, out
        original = verify_repo_car(exported, did=did, key=old_key.public_key())
        moved = verify_repo_car(
            await ok(new, "com.atproto.sync.getRepo", params={"did": did}),
            did=did,
            key=new_key.public_key(),
        )
        assert moved.records == original.records
        assert moved.commit.rev > original.commit.rev
        listed = await ok(
            new, f"{R}.listRecords", params={"repo": did, "collection": POST, "limit": 100}
        )
        assert len(listed["records"]) == 30
        await fails(
            new,
            f"{R}.getRecord",
            400,
            "RecordNotFound",
            params={"repo": did, "collection": "com.example.gone", "rkey": "x"},
        )
        # one #sync event carrying the new commit
        async with new.ctx.db.read() as conn:
            events = await new.ctx.sequencer.store.read_after(conn, before, 10)
        assert [e.kind for e in events] == ["#sync"]
        frame = decode_frame(events[0].frame)
        assert isinstance(frame, MessageFrame) and frame.body["rev"] == moved.commit.rev
        commit_cid, commit_block = moved.commit_cid, moved.blocks[moved.commit_cid]
        assert frame.body["blocks"] == car_bytes(commit_cid, [(commit_cid, commit_block)])
        # the avatar was not uploaded here yet
        missing = await ok(new, f"{R}.listMissingBlobs", as_did=did)
        assert missing["blobs"] == [
            {"cid": avatar["ref"]["$link"], "recordUri": f"at://{did}/app.bsky.actor.profile/self"}
        ]
        # writes continue on the imported repo
        body = {"repo": did, "collection": POST, "record": post("after the move")}
        await ok(new, f"{R}.createRecord", body=body, as_did=did)
        again = verify_repo_car(
            await ok(new, "com.atproto.sync.getRepo", params={"did": did}),
            did=did,
            key=new_key.public_key(),
        )
        assert len(again.records) == 32

        # an export signed by a key that is neither the account's nor the published one
        rogue = await pds_factory(areas=AREAS, plc_url=plc)
        await add_account(rogue.ctx, did, "alice.test", generate_keypair())
        forged = await ok(rogue, "com.atproto.sync.getRepo", params={"did": did})
        status, out = await import_car(new, forged, bearer(new, did))
        assert status == 400 and isinstance(out, dict) and "signature" in str(out["message"])
