"""com.atproto.repo record methods over HTTP on both databases: writes, swaps, reads, errors."""

from __future__ import annotations

import asyncio
from typing import Any

from sonet.syntax.tid import next_tid
from tests.pds.conftest import PdsFactory, RunningPds, create_test_account
from tests.pds.test_sync_support import AREAS, bearer, fails, ok, post, set_status

R = "com.atproto.repo"
POST = "app.bsky.feed.post"


async def create(pds: RunningPds, did: str, record: dict[str, Any], **extra: Any) -> Any:
    body = {"repo": did, "collection": POST, "record": record, **extra}
    return await ok(pds, f"{R}.createRecord", body=body, as_did=did)


async def events(pds: RunningPds) -> int:
    return pds.ctx.sequencer.latest


async def test_create_get_and_auth(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=AREAS)
    did, _ = await create_test_account(pds.ctx, "alice.test")
    bob, _ = await create_test_account(pds.ctx, "bob.test")
    out = await create(pds, did, post("hello"))
    assert out["uri"].startswith(f"at://{did}/{POST}/")
    assert out["validationStatus"] == "valid"
    head = await pds.ctx.repos.head(did)
    assert out["commit"] == {"cid": head.commit_cid.encode(), "rev": head.rev}
    rkey = out["uri"].rsplit("/", 1)[1]
    got = await ok(pds, f"{R}.getRecord", params={"repo": did, "collection": POST, "rkey": rkey})
    assert got == {"uri": out["uri"], "cid": out["cid"], "value": post("hello")}
    # by handle, with an explicit key and validation off (then no validationStatus)
    body = {
        "repo": "alice.test",
        "collection": "com.example.thing",
        "rkey": "k1",
        "record": {"n": 1, "link": {"$link": out["cid"]}},
        "validate": False,
    }
    out2 = await ok(pds, f"{R}.createRecord", body=body, as_did=did)
    assert "validationStatus" not in out2
    got = await ok(
        pds,
        f"{R}.getRecord",
        params={"repo": "alice.test", "collection": "com.example.thing", "rkey": "k1"},
    )
    assert got["value"] == {"$type": "com.example.thing", "n": 1, "link": {"$link": out["cid"]}}
    # the record exists already; lexicon failures; unknown lexicon with validate=true
    await fails(pds, f"{R}.createRecord", 400, "InvalidRequest", body=body, as_did=did)
    bad = {"repo": did, "collection": POST, "record": {"text": "no date"}}
    await fails(pds, f"{R}.createRecord", 400, "InvalidRequest", body=bad, as_did=did)
    strict = {**body, "rkey": "k2", "validate": True}
    await fails(pds, f"{R}.createRecord", 400, "InvalidRequest", body=strict, as_did=did)
    # auth: none, someone else's repo, unknown repo, forged token
    fine = {"repo": did, "collection": POST, "record": post("x")}
    await fails(pds, f"{R}.createRecord", 401, "AuthMissing", body=fine)
    await fails(pds, f"{R}.createRecord", 401, "AuthenticationRequired", body=fine, as_did=bob)
    unknown = {**fine, "repo": "did:plc:unknownunknownunknownunk"}
    await fails(pds, f"{R}.createRecord", 403, "AccountNotFound", body=unknown, as_did=did)
    forged = {"Authorization": bearer(pds, did)["Authorization"][:-2] + "xx"}
    await fails(pds, f"{R}.createRecord", 400, "InvalidToken", body=fine, headers=forged)
    # swapCommit
    stale = {**fine, "swapCommit": out["commit"]["cid"]}
    await fails(pds, f"{R}.createRecord", 400, "InvalidSwap", body=stale, as_did=did)
    current = {**fine, "swapCommit": (await pds.ctx.repos.head(did)).commit_cid.encode()}
    await ok(pds, f"{R}.createRecord", body=current, as_did=did)
    # hosting status
    await set_status(pds.ctx, did, "deactivated")
    await fails(pds, f"{R}.createRecord", 401, "AccountDeactivated", body=fine, as_did=did)
    await set_status(pds.ctx, did, "takendown")
    await fails(pds, f"{R}.createRecord", 401, "AccountTakedown", body=fine, as_did=did)
    await fails(
        pds,
        f"{R}.getRecord",
        400,
        "InvalidRequest",
        params={"repo": did, "collection": POST, "rkey": rkey},
    )


async def test_put_delete_and_swaps(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=AREAS)
    did, _ = await create_test_account(pds.ctx, "alice.test")
    profile = {"$type": "app.bsky.actor.profile", "displayName": "Alice"}
    where = {"repo": did, "collection": "app.bsky.actor.profile", "rkey": "self"}
    # swapRecord null: must not exist yet -> creates
    first = await ok(
        pds, f"{R}.putRecord", body={**where, "record": profile, "swapRecord": None}, as_did=did
    )
    assert first["validationStatus"] == "valid" and "commit" in first
    await fails(
        pds,
        f"{R}.putRecord",
        400,
        "InvalidSwap",
        body={**where, "record": {**profile, "displayName": "A"}, "swapRecord": None},
        as_did=did,
    )
    # the same record again: a no-op without a commit or event
    before = await events(pds)
    again = await ok(pds, f"{R}.putRecord", body={**where, "record": profile}, as_did=did)
    assert again["cid"] == first["cid"] and "commit" not in again
    assert await events(pds) == before
    # update with the right and a wrong swapRecord
    changed = {**profile, "displayName": "Alice B"}
    await fails(
        pds,
        f"{R}.putRecord",
        400,
        "InvalidSwap",
        body={**where, "record": changed, "swapRecord": first["commit"]["cid"]},
        as_did=did,
    )
    updated = await ok(
        pds,
        f"{R}.putRecord",
        body={**where, "record": changed, "swapRecord": first["cid"]},
        as_did=did,
    )
    assert updated["cid"] != first["cid"]
    got = await ok(pds, f"{R}.getRecord", params=where)
    assert got["value"]["displayName"] == "Alice B"
    # getRecord with the old cid: not the current version
    await fails(pds, f"{R}.getRecord", 400, "RecordNotFound", params={**where, "cid": first["cid"]})
    assert (await ok(pds, f"{R}.getRecord", params={**where, "cid": updated["cid"]}))["cid"]
    # profiles need the literal key "self"
    wrong = {**where, "rkey": "other", "record": profile}
    await fails(pds, f"{R}.putRecord", 400, "InvalidRequest", body=wrong, as_did=did)
    # delete: wrong swap, then for real, then again (a no-op without a commit)
    await fails(
        pds,
        f"{R}.deleteRecord",
        400,
        "InvalidSwap",
        body={**where, "swapRecord": first["cid"]},
        as_did=did,
    )
    deleted = await ok(
        pds, f"{R}.deleteRecord", body={**where, "swapRecord": updated["cid"]}, as_did=did
    )
    assert deleted["commit"]["rev"] > updated["commit"]["rev"]
    before = await events(pds)
    assert await ok(pds, f"{R}.deleteRecord", body=where, as_did=did) == {}
    assert await events(pds) == before
    await fails(pds, f"{R}.getRecord", 400, "RecordNotFound", params=where)


async def test_racing_puts_and_deletes_all_succeed(pds_factory: PdsFactory) -> None:
    """A record created or deleted by a concurrent call between putRecord's (deleteRecord's)
    look-up and its commit is looked up again, not reported as an error."""
    pds = await pds_factory(areas=AREAS)
    did, _ = await create_test_account(pds.ctx, "alice.test")
    where = {"repo": did, "collection": "app.bsky.actor.profile", "rkey": "self"}
    profile = {"$type": "app.bsky.actor.profile", "displayName": "Alice"}
    puts = [
        ok(pds, f"{R}.putRecord", body={**where, "record": profile}, as_did=did) for _ in range(6)
    ]
    written = await asyncio.gather(*puts)
    assert len({out["cid"] for out in written}) == 1
    assert sum("commit" in out for out in written) == 1
    deletes = [ok(pds, f"{R}.deleteRecord", body=where, as_did=did) for _ in range(6)]
    deleted = await asyncio.gather(*deletes)
    assert sum("commit" in out for out in deleted) == 1
    await fails(pds, f"{R}.getRecord", 400, "RecordNotFound", params=where)


async def test_apply_writes(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=AREAS)
    did, _ = await create_test_account(pds.ctx, "alice.test")
    aw = "com.atproto.repo.applyWrites"
    out = await ok(
        pds,
        f"{R}.applyWrites",
        body={
            "repo": did,
            "writes": [
                {
                    "$type": f"{aw}#create",
                    "collection": POST,
                    "rkey": "3kaaaaaaaaaa2",
                    "value": post("a"),
                },
                {"$type": f"{aw}#create", "collection": POST, "value": post("b")},
                {
                    "$type": f"{aw}#create",
                    "collection": "com.example.x",
                    "rkey": "one",
                    "value": {},
                },
            ],
        },
        as_did=did,
    )
    types = [r["$type"] for r in out["results"]]
    assert types == [f"{aw}#createResult"] * 3
    assert [r.get("validationStatus") for r in out["results"]] == ["valid", "valid", "unknown"]
    out = await ok(
        pds,
        f"{R}.applyWrites",
        body={
            "repo": did,
            "swapCommit": out["commit"]["cid"],
            "writes": [
                {
                    "$type": f"{aw}#update",
                    "collection": POST,
                    "rkey": "3kaaaaaaaaaa2",
                    "value": post("A"),
                },
                {"$type": f"{aw}#delete", "collection": "com.example.x", "rkey": "one"},
            ],
        },
        as_did=did,
    )
    assert out["results"][0]["$type"] == f"{aw}#updateResult"
    assert out["results"][1] == {"$type": f"{aw}#deleteResult"}
    head = await pds.ctx.repos.head(did)
    # atomic: one bad write fails the batch and changes nothing
    await fails(
        pds,
        f"{R}.applyWrites",
        400,
        "InvalidRequest",
        body={
            "repo": did,
            "writes": [
                {"$type": f"{aw}#create", "collection": POST, "value": post("fine")},
                {"$type": f"{aw}#delete", "collection": POST, "rkey": "3kaaaaaaaaaa7"},
            ],
        },
        as_did=did,
    )
    too_many = [
        {"$type": f"{aw}#create", "collection": "com.example.x", "rkey": f"k{i}", "value": {}}
        for i in range(201)
    ]
    message = await fails(
        pds,
        f"{R}.applyWrites",
        400,
        "InvalidRequest",
        body={"repo": did, "writes": too_many},
        as_did=did,
    )
    assert "Too many writes" in message
    stale = {"repo": did, "swapCommit": out["commit"]["cid"], "writes": too_many[:1]}
    await ok(pds, f"{R}.applyWrites", body=stale, as_did=did)
    await fails(pds, f"{R}.applyWrites", 400, "InvalidSwap", body=stale, as_did=did)
    assert (await pds.ctx.repos.head(did)).rev > head.rev


async def test_list_records_pages(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=AREAS)
    did, _ = await create_test_account(pds.ctx, "alice.test")
    aw = "com.atproto.repo.applyWrites"
    rkeys = [next_tid() for _ in range(25)]
    await ok(
        pds,
        f"{R}.applyWrites",
        body={
            "repo": did,
            "writes": [
                {"$type": f"{aw}#create", "collection": POST, "rkey": k, "value": post(k)}
                for k in rkeys
            ],
        },
        as_did=did,
    )

    async def walk(reverse: bool) -> list[str]:
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"repo": "alice.test", "collection": POST, "limit": 7}
            if reverse:
                params["reverse"] = "true"
            if cursor:
                params["cursor"] = cursor
            page = await ok(pds, f"{R}.listRecords", params=params)
            seen += [r["uri"].rsplit("/", 1)[1] for r in page["records"]]
            assert all(r["value"]["text"] == r["uri"].rsplit("/", 1)[1] for r in page["records"])
            cursor = page.get("cursor")
            if not page["records"]:
                assert cursor is None
                return seen

    assert await walk(False) == sorted(rkeys, reverse=True)
    assert await walk(True) == sorted(rkeys)
    for limit in ("0", "101"):
        await fails(
            pds,
            f"{R}.listRecords",
            400,
            "InvalidRequest",
            params={"repo": did, "collection": POST, "limit": limit},
        )
    await fails(
        pds,
        f"{R}.listRecords",
        400,
        "InvalidRequest",
        params={"repo": "nobody.test", "collection": POST},
    )
    empty = await ok(pds, f"{R}.listRecords", params={"repo": did, "collection": "a.b.c"})
    assert empty == {"records": []}
