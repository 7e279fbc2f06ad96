"""subscribeRepos over real websockets on both databases: live events, cursor replay, outdated and
future cursors, retention, and slow consumers dropped while fast ones carry on. Every #commit
frame is verified as a relay would (signature, and the sync 1.1 proof against prevData)."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from dataclasses import replace
from typing import Any

import aiohttp

from sonet.pds.firehose import Firehose
from sonet.xrpc.frames import ErrorFrame, MessageFrame, decode_frame
from tests.pds.conftest import PdsFactory, RunningPds, create_test_account
from tests.pds.test_sync_support import AREAS, FirehoseChecker, ok, post

SUB = "/xrpc/com.atproto.sync.subscribeRepos"
R = "com.atproto.repo"
TIMEOUT = 20.0


def firehose(pds: RunningPds) -> Firehose:
    services: Any = pds.ctx.services["sonet.pds.api.sync"]
    fh: Firehose = services.firehose
    return fh


async def create(pds: RunningPds, did: str, record: dict[str, Any], collection: str) -> Any:
    body = {"repo": did, "collection": collection, "record": record}
    return await ok(pds, f"{R}.createRecord", body=body, as_did=did)


async def receive(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[bytes]:
    frames = []
    for _ in range(n):
        msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
        assert msg.type == aiohttp.WSMsgType.BINARY, msg
        frames.append(msg.data)
    return frames


async def test_live_replay_and_proofs(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=AREAS)
    alice, alice_key = await create_test_account(pds.ctx, "alice.test")
    bob, bob_key = await create_test_account(pds.ctx, "bob.test")
    keys = {alice: alice_key.public_key(), bob: bob_key.public_key()}
    live = await pds.client.ws_connect(SUB)
    await asyncio.sleep(0.1)  # let the subscription start before writing

    first = await create(pds, alice, post("one"), "app.bsky.feed.post")
    await create(pds, bob, post("two"), "app.bsky.feed.post")
    rkey = first["uri"].rsplit("/", 1)[1]
    where = {"repo": alice, "collection": "app.bsky.feed.post", "rkey": rkey}
    await ok(pds, f"{R}.putRecord", body={**where, "record": post("one, edited")}, as_did=alice)
    await ok(
        pds,
        f"{R}.putRecord",
        body={
            "repo": alice,
            "collection": "app.bsky.actor.profile",
            "rkey": "self",
            "record": {"displayName": "Alice"},
        },
        as_did=alice,
    )
    await ok(pds, f"{R}.deleteRecord", body=where, as_did=alice)
    latest = pds.ctx.sequencer.latest
    assert latest == 7  # two repo creations and five commits

    got = await receive(live, 5)
    frames = [decode_frame(f) for f in got]
    assert [f.body["seq"] for f in frames if isinstance(f, MessageFrame)] == [3, 4, 5, 6, 7]
    ops = [f.body["ops"][0]["action"] for f in frames if isinstance(f, MessageFrame)]
    assert ops == ["create", "create", "update", "create", "delete"]

    # replay from the start: every commit verifies against the previous data root
    checker = FirehoseChecker(keys)
    replay = await pds.client.ws_connect(SUB, params={"cursor": "0"})
    for data in await receive(replay, latest):
        checker.check(data)
    assert checker.last_seq == latest and checker.kinds == ["#commit"] * latest
    # ...and continues live, as does the first subscriber
    mid = await pds.client.ws_connect(SUB, params={"cursor": str(latest - 1)})
    await create(pds, bob, post("three"), "app.bsky.feed.post")
    checker.check((await receive(replay, 1))[0])
    assert checker.last_seq == latest + 1
    assert [decode_frame(d).body["seq"] for d in await receive(live, 1)] == [latest + 1]  # type: ignore[union-attr]
    assert [decode_frame(d).body["seq"] for d in await receive(mid, 2)] == [latest, latest + 1]  # type: ignore[union-attr]
    # a cursor at the head replays nothing
    head = await pds.client.ws_connect(SUB, params={"cursor": str(latest + 1)})
    await create(pds, bob, post("four"), "app.bsky.feed.post")
    assert [decode_frame(d).body["seq"] for d in await receive(head, 1)] == [latest + 2]  # type: ignore[union-attr]
    for ws in (live, replay, mid, head):
        await ws.close()


async def test_future_and_outdated_cursors(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=AREAS)
    did, key = await create_test_account(pds.ctx, "alice.test")
    fh = firehose(pds)
    fh.settings = replace(fh.settings, retention_seconds=2.0)
    ws = await pds.client.ws_connect(SUB, params={"cursor": "50"})
    msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
    frame = decode_frame(msg.data)
    assert isinstance(frame, ErrorFrame) and frame.error == "FutureCursor"
    assert (await asyncio.wait_for(ws.receive(), TIMEOUT)).type == aiohttp.WSMsgType.CLOSE

    for i in range(3):
        await create(pds, did, post(f"old {i}"), "app.bsky.feed.post")
    await asyncio.sleep(2.5)
    for i in range(2):
        await create(pds, did, post(f"new {i}"), "app.bsky.feed.post")
    latest = pds.ctx.sequencer.latest  # 6: the creation, 3 old, 2 new

    async def replay(cursor: int, n: int) -> list[MessageFrame]:
        ws = await pds.client.ws_connect(SUB, params={"cursor": str(cursor)})
        frames = [decode_frame(d) for d in await receive(ws, n)]
        await ws.close()
        assert all(isinstance(f, MessageFrame) for f in frames)
        return frames  # type: ignore[return-value]

    # events older than the window but not trimmed yet
    frames = await replay(1, 3)
    assert frames[0].type == "#info" and frames[0].body["name"] == "OutdatedCursor"
    assert [f.body["seq"] for f in frames[1:]] == [latest - 1, latest]
    # trimmed: the same from the oldest retained event
    assert await fh.trim() == 4
    bounds = await pds.ctx.sequencer.bounds()
    assert bounds == (latest - 1, latest)
    frames = await replay(0, 3)
    assert frames[0].type == "#info"
    assert [f.body["seq"] for f in frames[1:]] == [latest - 1, latest]
    # a cursor just before the retained window is not outdated
    frames = await replay(latest - 2, 2)
    assert [f.type for f in frames] == ["#commit", "#commit"]
    checker = FirehoseChecker({did: key.public_key()})
    for f in frames:
        checker.check(f.to_bytes())


class RawSubscriber:
    """A websocket client on a tiny receive buffer that reads only when told to."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, pds: RunningPds, query: str = "") -> RawSubscriber:
        url = pds.client.make_url(SUB)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (url.host, url.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {SUB}{query} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def read_all(self) -> tuple[list[bytes], bool]:
        """Every binary message until the connection ends; and whether a close frame came."""
        messages: list[bytes] = []
        try:
            while True:
                b0, b1 = await asyncio.wait_for(self.reader.readexactly(2), TIMEOUT)
                length = b1 & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", await self.reader.readexactly(2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
                payload = await self.reader.readexactly(length)
                opcode = b0 & 0x0F
                if opcode == 0x8:
                    return messages, True
                if opcode == 0x2:
                    messages.append(payload)
        except (asyncio.IncompleteReadError, ConnectionResetError):
            return messages, False

    def close(self) -> None:
        self.writer.transport.abort()


BIG = {"$type": "com.example.big", "data": "x" * 250_000}
"""40 of these (10 MB of frames) overflow the socket buffers of a consumer that does not read."""
FLOOD = 40


async def flood_past_laggard(
    pds: RunningPds, did: str, **settings: Any
) -> tuple[RawSubscriber, list[bytes]]:
    """With the firehose ``settings`` changed, connect a raw consumer that reads nothing yet and
    a fast one, then write ``FLOOD`` big records; returns the laggard and the fast one's frames."""
    fh = firehose(pds)
    fh.settings = replace(fh.settings, **settings)
    laggard = await RawSubscriber.connect(pds)
    fast = await pds.client.ws_connect(SUB)
    await asyncio.sleep(0.1)
    reading = asyncio.create_task(receive(fast, FLOOD))
    for _ in range(FLOOD):
        await create(pds, did, BIG, "com.example.big")
    frames = await reading
    await fast.close()
    return laggard, frames


async def test_stalled_consumer_is_cut_fast_one_continues(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=AREAS)
    did, key = await create_test_account(pds.ctx, "alice.test")
    stuck, frames = await flood_past_laggard(pds, did, stall_seconds=1.0)
    checker = FirehoseChecker({did: key.public_key()})
    for data in frames:
        checker.check(data)
    assert len(checker.commits) == FLOOD
    await asyncio.sleep(2.5)  # past the stall limit: the stuck consumer has been cut
    received, closed_cleanly = await stuck.read_all()
    assert len(received) < FLOOD and not closed_cleanly
    stuck.close()


async def test_lagging_consumer_gets_consumer_too_slow(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=AREAS)
    did, _ = await create_test_account(pds.ctx, "alice.test")
    slow, frames = await flood_past_laggard(pds, did, max_lag=10)
    assert len(frames) == FLOOD
    # the slow consumer finally reads: what was sent, then the error, then the close
    received, closed = await slow.read_all()
    last = decode_frame(received[-1])
    assert isinstance(last, ErrorFrame) and last.error == "ConsumerTooSlow"
    assert closed and len(received) - 1 < FLOOD
    for data in received[:-1]:
        assert isinstance(decode_frame(data), MessageFrame)
    slow.close()
