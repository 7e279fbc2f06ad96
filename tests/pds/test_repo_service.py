"""The PDS write path on both databases: commits, records, firehose events and their proofs."""

from __future__ import annotations

import asyncio

import pytest

from sonet.crypto import Keypair, generate_keypair
from sonet.lexicons import Lexicons
from sonet.pds.errors import InvalidRecordError, InvalidSwapError, RepoNotFoundError
from sonet.pds.repo_service import RepoService
from sonet.pds.repo_writes import WriteRequest
from sonet.pds.schema import migrate_pds
from sonet.pds.sequencer import Sequencer
from sonet.repo import cbor
from sonet.repo.blockstore import MemoryBlockstore
from sonet.repo.car import read_car
from sonet.repo.cid import CID
from sonet.repo.commit import decode_commit, verify_commit
from sonet.repo.mst import MST
from sonet.repo.mst_proof import RepoOp, verify_commit_proof
from sonet.storage.database import Database
from sonet.xrpc.frames import MessageFrame, decode_frame

ALICE = "did:plc:alice4alice4alice4alice4"
BOB = "did:plc:bob4bob4bob4bob4bob4bob4"


def post(text: str) -> dict[str, object]:
    return {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-11-22T00:00:00.000Z"}


async def make_service(db: Database, keys: dict[str, Keypair]) -> RepoService:
    await migrate_pds(db)
    sequencer = Sequencer(db)
    await sequencer.start()

    async def key_for(did: str) -> Keypair:
        return keys[did]

    return RepoService(db, sequencer, Lexicons.bundled(), key_for)


async def new_repo(service: RepoService, did: str) -> None:
    async with service.sequencer.transaction() as tx:
        await service.create_repo(tx, did, await service.signing_key(did))


async def check_firehose(service: RepoService, keys: dict[str, Keypair]) -> int:
    """Replay the whole log: every #commit verifies against the previous data root."""
    prev_data: dict[str, object] = {}
    count = 0
    async with service.db.read() as conn:
        events = await service.sequencer.store.read_after(conn, 0, 100_000)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    for event in events:
        frame = decode_frame(event.frame)
        assert isinstance(frame, MessageFrame) and frame.type == "#commit"
        body = frame.body
        assert body["seq"] == event.seq
        car = read_car(body["blocks"])
        commit = decode_commit(car.blocks[body["commit"]])
        assert verify_commit(commit, keys[body["repo"]].public_key())
        ops = [RepoOp(o["action"], o["path"], o["cid"], o.get("prev")) for o in body["ops"]]
        if body["repo"] in prev_data:
            assert body["prevData"] == prev_data[body["repo"]]
            verify_commit_proof(MemoryBlockstore(car.blocks), commit.data, ops, body["prevData"])
        for op in ops:
            if op.cid is not None:
                assert cbor.decode(car.blocks[op.cid])["$type"]
        prev_data[body["repo"]] = commit.data
        count += 1
    return count


async def test_writes_commit_and_stream(database: Database) -> None:
    keys = {ALICE: generate_keypair(), BOB: generate_keypair("p256")}
    service = await make_service(database, keys)
    await new_repo(service, ALICE)
    await new_repo(service, BOB)
    first = await service.apply_writes(
        ALICE, [WriteRequest("create", "app.bsky.feed.post", None, post("hi"))]
    )
    assert first.results[0].validation_status == "valid"
    uri = first.results[0].uri
    rkey = uri.rsplit("/", 1)[1]
    await service.apply_writes(
        ALICE,
        [
            WriteRequest("update", "app.bsky.feed.post", rkey, post("edited")),
            WriteRequest("create", "app.bsky.actor.profile", "self", {"displayName": "Alice"}),
            WriteRequest("create", "com.example.unknown", "x1", {"anything": 1}),
        ],
    )
    await service.apply_writes(
        BOB,
        [
            WriteRequest(
                "create",
                "app.bsky.feed.like",
                None,
                {
                    "subject": {"uri": uri, "cid": first.results[0].cid.encode()},  # type: ignore[union-attr]
                    "createdAt": "2026-11-22T00:00:00.000Z",
                },
            )
        ],
    )
    await service.apply_writes(ALICE, [WriteRequest("delete", "com.example.unknown", "x1")])
    assert await check_firehose(service, keys) == 6

    async with database.read() as conn:
        rec = await service.store.get_record(conn, ALICE, "app.bsky.feed.post", rkey)
        assert rec is not None and cbor.decode(rec.block)["text"] == "edited"
        assert await service.store.get_record(conn, ALICE, "com.example.unknown", "x1") is None
        assert await service.store.collections(conn, ALICE) == [
            "app.bsky.actor.profile",
            "app.bsky.feed.post",
        ]
        head = await service.store.get_root(conn, ALICE)
        assert head is not None
        blocks: dict[CID, bytes] = {}
        async for part in service.store.iter_blocks(conn, ALICE):
            blocks.update(part)
    # the stored blocks are exactly a complete repo: commit, MST and live records
    tree = MST.load(MemoryBlockstore(blocks), head.data_cid)
    assert {k for k, _ in tree.items()} == {
        "app.bsky.feed.post/" + rkey,
        "app.bsky.actor.profile/self",
    }
    live = {head.commit_cid, *(n.cid for n in tree.nodes()), *(c for _, c in tree.items())}
    assert set(blocks) == live


async def test_bad_writes_change_nothing(database: Database) -> None:
    keys = {ALICE: generate_keypair()}
    service = await make_service(database, keys)
    await new_repo(service, ALICE)
    head = await service.head(ALICE)
    bad = [
        (
            [
                WriteRequest(
                    "create",
                    "app.bsky.feed.post",
                    None,
                    {"text": "x" * 5000, "createdAt": "2026-11-22T00:00:00Z"},
                )
            ],
            InvalidRecordError,
        ),
        (
            [WriteRequest("create", "app.bsky.feed.post", None, {"text": "no date"})],
            InvalidRecordError,
        ),
        ([WriteRequest("create", "app.bsky.actor.profile", "notself", {})], InvalidRecordError),
        ([WriteRequest("create", "app.bsky.feed.post", "bad key!", post("x"))], InvalidRecordError),
        (
            [WriteRequest("create", "app.bsky.feed.post", None, {"$type": "app.bsky.feed.like"})],
            InvalidRecordError,
        ),
        ([WriteRequest("delete", "app.bsky.feed.post", "3kaaaaaaaaaaa")], InvalidRecordError),
        (
            [WriteRequest("update", "app.bsky.feed.post", "3kaaaaaaaaaaa", post("x"))],
            InvalidRecordError,
        ),
    ]
    for writes, error in bad:
        with pytest.raises(error):
            await service.apply_writes(ALICE, writes)
    with pytest.raises(InvalidRecordError):
        await service.apply_writes(
            ALICE, [WriteRequest("create", "com.example.thing", "a", {})], validate=True
        )
    with pytest.raises(InvalidSwapError):
        await service.apply_writes(
            ALICE,
            [WriteRequest("create", "app.bsky.feed.post", None, post("x"))],
            swap_commit=MST.empty().root_cid,
        )
    with pytest.raises(RepoNotFoundError):
        await service.apply_writes(
            BOB, [WriteRequest("create", "app.bsky.feed.post", None, post("x"))]
        )
    assert await service.head(ALICE) == head
    assert await check_firehose(service, keys) == 1


async def test_concurrent_writers_and_restart(database: Database) -> None:
    dids = [f"did:plc:user{i:020d}" for i in range(4)]
    keys = {did: generate_keypair() for did in dids}
    service = await make_service(database, keys)
    for did in dids:
        await new_repo(service, did)

    async def burst(did: str, n: int) -> None:
        for i in range(n):
            await service.apply_writes(
                did, [WriteRequest("create", "app.bsky.feed.post", None, post(f"{did} {i}"))]
            )

    await asyncio.gather(*(burst(did, 15) for did in dids for _ in range(2)))
    assert await check_firehose(service, keys) == 4 + 4 * 30
    # a fresh service (a restart) continues from what is stored
    again = await make_service(database, keys)
    await again.apply_writes(
        dids[0], [WriteRequest("create", "app.bsky.feed.post", None, post("after"))]
    )
    assert await check_firehose(again, keys) == 4 + 4 * 30 + 1
    async with database.read() as conn:
        assert await again.store.record_count(conn, dids[0]) == 31


async def test_head_moved_elsewhere_fails_only_that_write(database: Database) -> None:
    """A write built on a stale head (another service instance moved it) is refused with
    InvalidSwap when its statements run; the write batched beside it still lands, and the next
    write to the stale repo reloads its head and succeeds."""
    keys = {ALICE: generate_keypair(), BOB: generate_keypair()}
    service = await make_service(database, keys)
    for did in keys:
        await new_repo(service, did)
    create = [WriteRequest("create", "app.bsky.feed.post", None, post("first"))]
    await service.apply_writes(ALICE, create)
    other = RepoService(database, service.sequencer, Lexicons.bundled(), service.signing_key)
    await other.apply_writes(ALICE, create)  # moves ALICE's head behind `service`'s back
    stale, fresh = await asyncio.gather(
        service.apply_writes(ALICE, create),
        service.apply_writes(BOB, create),
        return_exceptions=True,
    )
    assert isinstance(stale, InvalidSwapError)
    assert not isinstance(fresh, BaseException)
    await service.apply_writes(ALICE, create)
    async with database.read() as conn:
        records = await service.store.list_records(conn, ALICE, "app.bsky.feed.post", 10)
    assert len(records) == 3
    assert await check_firehose(service, keys) > 0
