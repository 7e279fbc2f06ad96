"""Deleting an account purges its earlier firehose events (as the reference PDS does): the log
keeps only the final ``#account`` (deleted) event, on both databases, in memory and stored, and
a subscriber replaying from a cursor no longer receives the purged events."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import aiohttp

from sonet.pds.sequencer import Sequencer
from sonet.storage import sequencer_store
from sonet.storage.database import Database
from sonet.storage.migrations import migrate
from sonet.xrpc.frames import MessageFrame, decode_frame
from tests.pds.conftest import PdsFactory, create_test_account
from tests.pds.test_sync_support import AREAS, ok, post

SUB = "/xrpc/com.atproto.sync.subscribeRepos"
ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-pass").decode()}


def _frame(seq: int) -> bytes:
    return str(seq).encode()


async def test_purge_keeps_numbering_and_drops_window(database: Database) -> None:
    await migrate(database, "pds_sequencer", sequencer_store.MIGRATIONS)
    sequencer = Sequencer(database)
    await sequencer.start()
    for did in ("did:plc:gone", "did:plc:kept", "did:plc:gone"):
        async with sequencer.transaction() as tx:
            await tx.sequence(did, "#commit", _frame)
    assert sequencer.latest == 3  # the latest event belongs to the account being deleted
    async with sequencer.transaction() as tx:
        last = await tx.sequence("did:plc:gone", "#account", _frame)
        await tx.purge("did:plc:gone")
    assert last.seq == 4  # numbered past the purged latest event, never reusing 3
    async with database.read() as conn:
        stored = await sequencer.store.read_after(conn, 0, 100)
    assert [(e.seq, e.did, e.kind) for e in stored] == [
        (2, "did:plc:kept", "#commit"),
        (4, "did:plc:gone", "#account"),
    ]
    # the in-memory window serves the same (a replay from 0 skips the purged numbers)
    replayed = []
    async for event in sequencer.events_after(0):
        replayed.append(event.seq)
        if event.seq == 4:
            break
    assert replayed == [2, 4]
    async with sequencer.transaction() as tx:
        assert (await tx.sequence("did:plc:kept", "#commit", _frame)).seq == 5


async def _seqs(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[tuple[int, str, str | None]]:
    out = []
    for _ in range(n):
        msg = await asyncio.wait_for(ws.receive(), 20.0)
        frame = decode_frame(msg.data)
        assert isinstance(frame, MessageFrame)
        out.append((frame.body["seq"], frame.body.get("repo") or frame.body["did"], frame.type))
    return out


async def test_deleted_account_events_leave_the_replay(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[*AREAS, "sonet.pds.api.admin"])
    gone, _ = await create_test_account(pds.ctx, "gone.test")
    kept, _ = await create_test_account(pds.ctx, "kept.test")
    for did in (gone, kept, gone):
        body: dict[str, Any] = {
            "repo": did,
            "collection": "app.bsky.feed.post",
            "record": post("hi"),
        }
        await ok(pds, "com.atproto.repo.createRecord", body=body, as_did=did)
    live = await pds.client.ws_connect(SUB, params={"cursor": "0"})
    assert len(await _seqs(live, 5)) == 5  # the window holds every event before the deletion

    await ok(pds, "com.atproto.admin.deleteAccount", body={"did": gone}, headers=ADMIN)
    assert await _seqs(live, 1) == [(6, gone, "#account")]
    replay = await pds.client.ws_connect(SUB, params={"cursor": "0"})
    assert await _seqs(replay, 3) == [
        (2, kept, "#commit"),
        (4, kept, "#commit"),
        (6, gone, "#account"),
    ]
    # served from the database as well as from memory
    pds.ctx.sequencer._recent.clear()
    cold = await pds.client.ws_connect(SUB, params={"cursor": "1"})
    assert [s for s, _, _ in await _seqs(cold, 3)] == [2, 4, 6]
    for ws in (live, replay, cold):
        await ws.close()
