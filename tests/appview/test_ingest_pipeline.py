"""The ingest pipeline: resync requests, repeats, info and error frames, failing events, and
decoding in a worker process; on both databases."""

from __future__ import annotations

import pytest

from sonet.appview.ingest.decode_pool import DecodePool
from sonet.appview.ingest.events import RecordWrite
from sonet.appview.ingest.frame_events import FrameDecoder
from sonet.appview.ingest.indexer import Indexer
from sonet.appview.ingest.pipeline import IngestPipeline
from sonet.appview.schema import migrate_appview
from sonet.lexicons import Lexicons
from sonet.repo import cbor
from sonet.repo.car import car_bytes
from sonet.storage.database import Database
from sonet.sync.events import account_body, commit_body, identity_body, info_body, sync_body
from sonet.xrpc.frames import ErrorFrame, MessageFrame
from tests.appview.test_ingest_rules import frame_of
from tests.appview.test_ingest_support import NOW, Actor, scalar

DID = "did:plc:pipeline"


@pytest.fixture
async def indexer(database: Database) -> Indexer:
    await migrate_appview(database)
    return Indexer(database)


def with_seq(frame: bytes, seq: int) -> bytes:
    message = MessageFrame(*_split(frame))
    message.body["seq"] = seq
    return message.to_bytes()


def _split(frame: bytes) -> tuple[dict[str, object], str]:
    from sonet.xrpc.frames import decode_frame

    decoded = decode_frame(frame)
    assert isinstance(decoded, MessageFrame) and decoded.type is not None
    return decoded.body, decoded.type


def post_frame(seq: int, text: str) -> bytes:
    record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": NOW}
    return with_seq(frame_of(DID, [("app.bsky.feed.post", record)]), seq)


async def test_control_messages_resync_and_repeats(indexer: Indexer) -> None:
    resynced: list[str] = []

    async def resync(did: str) -> None:
        resynced.append(did)

    pipeline = IngestPipeline(indexer, FrameDecoder(Lexicons.bundled()), "src", resync=resync)
    pipeline.start()
    commit_cid, commit_block = cbor.encode_with_cid({"did": DID})
    too_big = commit_body(
        seq=3,
        repo=DID,
        commit=commit_cid,
        rev="3kaaaaaaaaaa2",
        since=None,
        blocks=b"",
        ops=[],
        prev_data=None,
        time=NOW,
        too_big=True,
    )
    frames = [
        post_frame(1, "one"),
        MessageFrame(
            sync_body(
                seq=2,
                did=DID,
                blocks=car_bytes(commit_cid, [(commit_cid, commit_block)]),
                rev="3kaaaaaaaaaa2",
                time=NOW,
            ),
            "#sync",
        ).to_bytes(),
        MessageFrame(too_big, "#commit").to_bytes(),
        MessageFrame(identity_body(seq=4, did=DID, time=NOW), "#identity").to_bytes(),
        MessageFrame(
            account_body(seq=5, did=DID, time=NOW, active=False, status="suspended"), "#account"
        ).to_bytes(),
        MessageFrame(info_body("OutdatedCursor"), "#info").to_bytes(),
        post_frame(1, "a repeat of seq 1"),
        MessageFrame({"seq": 6}, "#somethingNew").to_bytes(),
        ErrorFrame("FutureCursor", "cursor in the future").to_bytes(),
    ]
    handles: set[str] = set()

    async def on_handles(dids: set[str]) -> None:
        handles.update(dids)

    indexer.on_handles = on_handles
    for frame in frames:
        await pipeline.feed(frame)
    await pipeline.stop()
    assert resynced == [DID, DID]
    assert handles == {DID}
    assert pipeline.indexed_seq == 5
    db = indexer.db
    assert await scalar(db, "SELECT COUNT(*) FROM post") == 1
    assert await scalar(db, "SELECT upstream_status FROM actor") == "suspended"
    assert await scalar(db, "SELECT seq FROM ingest_cursor WHERE source = 'src'") == 5


async def test_a_failing_event_is_skipped_alone(indexer: Indexer) -> None:
    alice, bob = Actor("did:plc:alice"), Actor("did:plc:bob")
    post = alice.post("ok")
    good_like = bob.like(post)
    # a record the lexicon check would have refused, injected past it: the like table needs
    # a subject, so this event fails inside the database
    broken = RecordWrite(
        "create",
        bob.did,
        "app.bsky.feed.like",
        "3kbroken00000",
        good_like.cid,
        good_like.data,
        {"$type": "app.bsky.feed.like", "createdAt": NOW},
    )
    await indexer.apply(
        [alice.commit(post), Actor(bob.did).commit(broken), bob.commit(good_like)], ("src", 9)
    )
    db = indexer.db
    assert indexer.stats["failed_events"] == 1
    assert await scalar(db, "SELECT COUNT(*) FROM post") == 1
    assert await scalar(db, 'SELECT COUNT(*) FROM "like"') == 1
    assert await scalar(db, "SELECT seq FROM ingest_cursor") == 9


async def test_decoding_in_a_worker_process(indexer: Indexer) -> None:
    pool = DecodePool(1)
    await pool.start()
    try:
        pipeline = IngestPipeline(
            indexer, FrameDecoder(Lexicons.bundled()), "pooled", pool=pool, chunk=7
        )
        pipeline.start()
        for seq in range(1, 51):
            await pipeline.feed(post_frame(seq, f"post {seq}"))
        await pipeline.feed(b"not a frame")
        await pipeline.stop()
    finally:
        await pool.close()
    assert await scalar(indexer.db, "SELECT COUNT(*) FROM post") == 50
    assert pipeline.indexed_seq == 50
    assert pool.stats["malformed_frames"] == 1
