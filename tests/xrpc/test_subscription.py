"""Subscriptions over a real WebSocket, and the event-stream frame format."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from sonet.repo import cbor
from sonet.xrpc import ErrorFrame, FrameError, MessageFrame, decode_frame
from sonet.xrpc.frames import message_from_value
from tests.xrpc.toy import Client, Toy, expect_error

URL = "/xrpc/com.atproto.sync.subscribeRepos"


async def frames(
    client: Client, cursor: object = None
) -> tuple[list[MessageFrame | ErrorFrame], int | None]:
    params = {} if cursor is None else {"cursor": str(cursor)}
    received: list[MessageFrame | ErrorFrame] = []
    async with client.ws_connect(URL, params=params) as ws:
        async for message in ws:
            assert message.type == aiohttp.WSMsgType.BINARY
            received.append(decode_frame(message.data))
        return received, ws.close_code


def infos(count: int) -> list[MessageFrame | ErrorFrame]:
    return [MessageFrame({"name": f"tick-{seq}"}, "#info") for seq in range(count)]


async def test_stream_ends_normally(client: Client, toy: Toy) -> None:
    received, code = await frames(client)
    assert received == infos(3)
    assert code == 1000
    assert toy.events == ["closed"]


async def test_error_frame_from_handler(client: Client) -> None:
    received, code = await frames(client, 200)
    assert received == [ErrorFrame("FutureCursor", "Cursor in the future.")]
    assert code == 1008


async def test_xrpc_error_becomes_error_frame(client: Client) -> None:
    received, code = await frames(client, 7)
    assert received == [*infos(3), ErrorFrame("ConsumerTooSlow", "bad luck")]
    assert code == 1008


async def test_unexpected_error_hides_details(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    received, code = await frames(client, 8)
    assert received == [*infos(3), ErrorFrame("InternalServerError", "Internal Server Error")]
    assert code == 1011
    assert "internal subscription detail" in caplog.text


async def test_invalid_message_is_caught_when_validating(client: Client) -> None:
    received, code = await frames(client, 9)
    assert received == [*infos(3), ErrorFrame("InternalServerError", "Internal Server Error")]
    assert code == 1008


async def test_invalid_params(client: Client) -> None:
    received, code = await frames(client, "abc")
    assert received == [ErrorFrame("InvalidRequest", "cursor must be an integer")]
    assert code == 1008


async def test_client_disconnect_closes_the_handler(client: Client, toy: Toy) -> None:
    async with client.ws_connect(URL, params={"cursor": "10"}) as ws:
        for _ in range(3):
            await ws.receive_bytes()
        await ws.close()
    for _ in range(100):
        if toy.events:
            break
        await asyncio.sleep(0.01)
    assert toy.events == ["closed"]


async def test_plain_get_and_post(client: Client) -> None:
    resp = await client.get(URL)
    await expect_error(resp, 400, "InvalidRequest")
    resp = await client.post(URL)
    await expect_error(resp, 400, "InvalidRequest", "Incorrect HTTP method (POST) expected GET")


def test_frame_round_trip() -> None:
    message = MessageFrame({"seq": 5, "blob": b"\x00\x01"}, "#commit")
    assert decode_frame(message.to_bytes()) == message
    assert decode_frame(MessageFrame({"a": 1}).to_bytes()) == MessageFrame({"a": 1})
    error = ErrorFrame("FutureCursor", "later")
    assert decode_frame(error.to_bytes()) == error
    assert decode_frame(ErrorFrame("X").to_bytes()) == ErrorFrame("X")


def test_message_type_from_value() -> None:
    nsid = "com.atproto.sync.subscribeRepos"
    assert message_from_value({"$type": f"{nsid}#commit", "seq": 1}, nsid) == MessageFrame(
        {"seq": 1}, "#commit"
    )
    assert message_from_value({"$type": "#identity", "seq": 1}, nsid) == MessageFrame(
        {"seq": 1}, "#identity"
    )
    assert message_from_value({"$type": "com.example.other#x"}, nsid) == MessageFrame(
        {}, "com.example.other#x"
    )
    assert message_from_value({"seq": 1}, nsid) == MessageFrame({"seq": 1})


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xff",
        cbor.encode({"op": 1}),
        cbor.encode({"op": 1}) + cbor.encode({}) + cbor.encode({}),
        cbor.encode([1]) + cbor.encode({}),
        cbor.encode({"op": 2}) + cbor.encode({}),
        cbor.encode({"op": 1, "t": 5}) + cbor.encode({}),
        cbor.encode({"op": -1}) + cbor.encode({"message": "no error name"}),
        cbor.encode({"op": 1}) + cbor.encode("not a map"),
    ],
)
def test_malformed_frames(data: bytes) -> None:
    with pytest.raises(FrameError):
        decode_frame(data)


def test_oversized_frame() -> None:
    with pytest.raises(FrameError):
        decode_frame(MessageFrame({"pad": b"x" * 100}).to_bytes(), max_size=50)
