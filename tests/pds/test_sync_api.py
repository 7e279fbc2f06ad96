"""com.atproto.sync reads over HTTP on both databases: CAR exports that verify, proofs, blocks,
heads, repo listing and hosting status."""

from __future__ import annotations

import base64
from typing import Any

from sonet.repo.blockstore import MemoryBlockstore
from sonet.repo.car import read_car
from sonet.repo.commit import decode_commit
from sonet.repo.mst import MST
from sonet.repo.repo_car import verify_repo_car
from sonet.syntax.tid import next_tid
from sonet.xrpc.tokens import AuthScope
from tests.pds.conftest import PdsFactory, RunningPds, create_test_account
from tests.pds.test_sync_support import AREAS, bearer, fails, ok, post, set_status

S = "com.atproto.sync"
POST = "app.bsky.feed.post"
ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-pass").decode()}


async def write_posts(pds: RunningPds, did: str, texts: list[str]) -> list[str]:
    """Create posts in batches of 100 writes; returns their record keys."""
    aw = "com.atproto.repo.applyWrites"
    rkeys = [next_tid() for _ in texts]
    pairs = list(zip(rkeys, texts, strict=True))
    for start in range(0, len(pairs), 100):
        writes = [
            {"$type": f"{aw}#create", "collection": POST, "rkey": k, "value": post(t)}
            for k, t in pairs[start : start + 100]
        ]
        await ok(pds, aw, body={"repo": did, "writes": writes}, as_did=did)
    return rkeys


async def test_get_repo_verifies_and_since(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=AREAS)
    did, key = await create_test_account(pds.ctx, "alice.test")
    rkeys = await write_posts(pds, did, [f"post {i}" for i in range(300)])
    car = await ok(pds, f"{S}.getRepo", params={"did": did})
    repo = verify_repo_car(car, did=did, key=key.public_key())
    assert len(repo.records) == 300
    assert repo.commit_cid == (await pds.ctx.repos.head(did)).commit_cid
    # the commit is the first block
    first = read_car(car)
    assert next(iter(first.blocks)) == repo.commit_cid
    since = repo.commit.rev
    more = await write_posts(pds, did, ["later 1", "later 2"])
    diff = read_car(await ok(pds, f"{S}.getRepo", params={"did": did, "since": since}))
    new_head = await pds.ctx.repos.head(did)
    assert diff.root == new_head.commit_cid and new_head.commit_cid in diff.blocks
    assert len(diff.blocks) < 20  # commit, changed MST nodes and the two new records
    full = verify_repo_car(await ok(pds, f"{S}.getRepo", params={"did": did}), did=did)
    for rkey in more:
        assert full.records[f"{POST}/{rkey}"] in diff.blocks
    assert f"{POST}/{rkeys[0]}" in full.records
    await fails(
        pds, f"{S}.getRepo", 400, "RepoNotFound", params={"did": "did:plc:nobodynobodynobodynobody"}
    )
    await fails(pds, f"{S}.getRepo", 400, "InvalidRequest", params={"did": "not-a-did"})


async def test_availability_by_status(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=AREAS)
    did, _ = await create_test_account(pds.ctx, "alice.test")
    other, _ = await create_test_account(pds.ctx, "bob.test")
    await write_posts(pds, did, ["x"])
    for status, error in (("deactivated", "RepoDeactivated"), ("takendown", "RepoTakendown")):
        await set_status(pds.ctx, did, status)
        for nsid in ("getRepo", "getLatestCommit"):
            await fails(pds, f"{S}.{nsid}", 400, error, params={"did": did})
            await fails(pds, f"{S}.{nsid}", 400, error, params={"did": did}, as_did=other)
            await ok(pds, f"{S}.{nsid}", params={"did": did}, headers=ADMIN)
        await ok(pds, f"{S}.getRepo", params={"did": did}, as_did=did)
        out = await ok(pds, f"{S}.getRepoStatus", params={"did": did})
        assert out == {"did": did, "active": False, "status": status}
    takendown = bearer(pds, did, scope=AuthScope.TAKENDOWN)
    await ok(pds, f"{S}.getRepo", params={"did": did}, headers=takendown)
    await set_status(pds.ctx, did, "active")
    out = await ok(pds, f"{S}.getRepoStatus", params={"did": did})
    assert out == {"did": did, "active": True, "rev": (await pds.ctx.repos.head(did)).rev}
    await fails(
        pds,
        f"{S}.getRepoStatus",
        400,
        "RepoNotFound",
        params={"did": "did:plc:nobodynobodynobodynobody"},
    )


async def test_latest_commit_record_proof_and_blocks(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=AREAS)
    did, _ = await create_test_account(pds.ctx, "alice.test")
    rkeys = await write_posts(pds, did, [f"p{i}" for i in range(100)])
    head = await pds.ctx.repos.head(did)
    assert await ok(pds, f"{S}.getLatestCommit", params={"did": did}) == {
        "cid": head.commit_cid.encode(),
        "rev": head.rev,
    }
    # a record's proof: commit first, then the MST path and the record
    params = {"did": did, "collection": POST, "rkey": rkeys[42]}
    proof = read_car(await ok(pds, f"{S}.getRecord", params=params))
    assert proof.root == head.commit_cid
    commit = decode_commit(proof.blocks[head.commit_cid])
    cid = MST.load(MemoryBlockstore(proof.blocks), commit.data).get(f"{POST}/{rkeys[42]}")
    assert cid is not None and cid in proof.blocks
    assert len(proof.blocks) < 10
    # an absent key: the path proves absence (every block needed is there)
    params = {"did": did, "collection": POST, "rkey": next_tid()}
    absent = read_car(await ok(pds, f"{S}.getRecord", params=params))
    assert (
        MST.load(MemoryBlockstore(absent.blocks), commit.data).get(f"{POST}/{params['rkey']}")
        is None
    )
    # blocks by CID, in the order asked; any missing one fails the call
    wanted = [head.commit_cid.encode(), cid.encode()]
    got = read_car(await ok(pds, f"{S}.getBlocks", params={"did": did, "cids": wanted}))
    assert got.roots == [] and [c.encode() for c in got.blocks] == wanted
    missing = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
    message = await fails(
        pds,
        f"{S}.getBlocks",
        400,
        "InvalidRequest",
        params={"did": did, "cids": [*wanted, missing]},
    )
    assert missing in message


async def test_list_repos(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=AREAS)
    dids = sorted([(await create_test_account(pds.ctx, f"u{i}.test"))[0] for i in range(5)])
    await set_status(pds.ctx, dids[1], "deactivated")
    await set_status(pds.ctx, dids[3], "takendown")
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await ok(pds, f"{S}.listRepos", params=params)
        seen += page["repos"]
        cursor = page.get("cursor")
        if not cursor:
            break
    assert [r["did"] for r in seen] == dids
    assert [r.get("status") for r in seen] == [None, "deactivated", None, "takendown", None]
    assert [r["active"] for r in seen] == [True, False, True, False, True]
    head = await pds.ctx.repos.head(dids[0])
    assert seen[0]["head"] == head.commit_cid.encode() and seen[0]["rev"] == head.rev
