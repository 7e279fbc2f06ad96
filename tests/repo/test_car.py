"""CARv1 writer and readers: round trips, every malformation, limits, async streams."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import random
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from sonet.repo.car import (
    READ_CHUNK_SIZE,
    CarCidError,
    CarError,
    CarFile,
    CarHashMismatchError,
    CarHeaderError,
    CarLimitError,
    CarTruncatedError,
    CarVarintError,
    aiter_car,
    car_bytes,
    iter_car,
    read_car,
    write_car,
)
from sonet.repo.car_decoder import CarDecoder
from sonet.repo.car_varint import encode_varint, read_varint
from sonet.repo.cbor import encode
from sonet.repo.cid import CID, cid_for_cbor, cid_for_raw

Blocks = list[tuple[CID, bytes]]


def make_blocks(count: int, size: int = 40) -> Blocks:
    blocks = []
    for index in range(count):
        data = encode({"i": index, "pad": b"x" * size})
        blocks.append((cid_for_cbor(data), data))
    return blocks


def section(cid_bytes: bytes, data: bytes) -> bytes:
    return encode_varint(len(cid_bytes) + len(data)) + cid_bytes + data


def header(value: object) -> bytes:
    body = encode(value)
    return encode_varint(len(body)) + body


BLOCKS = make_blocks(20)
ROOT = BLOCKS[0][0]
CAR = car_bytes(ROOT, BLOCKS)
HEADER_LENGTH = len(header({"version": 1, "roots": [ROOT]}))


def read_in_pieces(data: bytes, sizes: list[int]) -> CarFile:
    """Drive the decoder with arbitrary chunk boundaries."""
    decoder = CarDecoder()
    blocks: dict[CID, bytes] = {}
    pos = 0
    sizes_iter = iter(sizes)
    while pos < len(data):
        step = next(sizes_iter, len(data))
        for cid, block in decoder.feed(data[pos : pos + step]):
            blocks.setdefault(cid, block)
        pos += step
    return CarFile(decoder.close(), blocks)


# --- writer and round trips -------------------------------------------------------------


def test_round_trip_bytes() -> None:
    car = read_car(CAR)
    assert car.roots == [ROOT]
    assert car.root == ROOT
    assert list(car.blocks.items()) == BLOCKS


def test_header_layout() -> None:
    assert CAR.startswith(header({"version": 1, "roots": [ROOT]}))
    cid_bytes, data = BLOCKS[0]
    assert CAR[HEADER_LENGTH:].startswith(section(cid_bytes.cid_bytes, data))


def test_no_root_writes_empty_roots() -> None:
    car = read_car(car_bytes(None, BLOCKS))
    assert car.roots == []
    with pytest.raises(CarHeaderError, match="exactly one"):
        _ = car.root


def test_header_only_car() -> None:
    car = read_car(car_bytes(ROOT, []))
    assert car.roots == [ROOT]
    assert car.blocks == {}


def test_several_roots_are_read() -> None:
    other = BLOCKS[1][0]
    data = header({"version": 1, "roots": [ROOT, other]}) + CAR[HEADER_LENGTH:]
    car = read_car(data)
    assert car.roots == [ROOT, other]
    with pytest.raises(CarHeaderError):
        _ = car.root


def test_write_chunks_are_batched() -> None:
    blocks = make_blocks(5000)
    chunks = list(write_car(ROOT, blocks))
    assert b"".join(chunks) == car_bytes(ROOT, blocks)
    assert len(chunks) > 1
    assert all(64 * 1024 <= len(chunk) < 65 * 1024 for chunk in chunks[:-1])


def test_write_is_lazy_over_blocks() -> None:
    def blocks() -> Iterator[tuple[CID, bytes]]:
        yield from BLOCKS
        raise AssertionError("iterated too far")

    stream = write_car(ROOT, blocks(), chunk_size=1)
    assert next(stream).startswith(header({"version": 1, "roots": [ROOT]}))


def test_large_block_round_trip() -> None:
    data = b"\xab" * (1024 * 1024 + 7)
    blocks = [(cid_for_raw(data), data), *BLOCKS]
    car_data = car_bytes(ROOT, blocks)
    assert list(read_car(car_data).blocks.items()) == blocks
    assert list(iter_car(io.BytesIO(car_data))) == blocks


def test_iter_car_round_trip() -> None:
    stream = iter_car(io.BytesIO(CAR))
    assert stream.roots == [ROOT]
    assert list(stream) == BLOCKS


def test_duplicate_blocks_first_wins() -> None:
    blocks = [*BLOCKS, BLOCKS[3], BLOCKS[0]]
    data = car_bytes(ROOT, blocks)
    assert list(read_car(data).blocks.items()) == BLOCKS
    assert list(iter_car(io.BytesIO(data))) == blocks


def test_read_car_accepts_bytearray_and_memoryview() -> None:
    assert read_car(bytearray(CAR)).blocks == read_car(memoryview(CAR)).blocks


def test_every_chunking_gives_the_same_blocks() -> None:
    rng = random.Random(7)
    expected = read_car(CAR)
    for _ in range(50):
        sizes = [rng.randint(1, 90) for _ in range(len(CAR))]
        assert read_in_pieces(CAR, sizes) == expected
    assert read_in_pieces(CAR, [1] * len(CAR)) == expected


block_sets = st.lists(
    st.tuples(st.booleans(), st.binary(min_size=0, max_size=300)), min_size=0, max_size=40
)


@settings(max_examples=150, deadline=None)
@given(block_sets, st.booleans(), st.lists(st.integers(1, 200), max_size=100))
def test_round_trip_random_blocks(
    spec: list[tuple[bool, bytes]], with_root: bool, sizes: list[int]
) -> None:
    blocks = [((cid_for_raw if raw else cid_for_cbor)(data), data) for raw, data in spec]
    root = blocks[0][0] if with_root and blocks else None
    data = car_bytes(root, blocks)
    unique = dict(reversed(blocks))
    car = read_car(data)
    assert car.roots == ([] if root is None else [root])
    assert car.blocks == unique
    assert list(car.blocks) == list(dict.fromkeys(cid for cid, _ in blocks))
    assert list(iter_car(io.BytesIO(data))) == blocks
    assert read_in_pieces(data, sizes) == car


# --- varints ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16383, 16384, 2**35, 2**63 - 1])
def test_varint_round_trip(value: int) -> None:
    encoded = encode_varint(value)
    assert read_varint(encoded, 0) == (value, len(encoded))
    assert read_varint(encoded[:-1], 0) is None


def test_varint_rejects_bad_forms() -> None:
    with pytest.raises(CarVarintError, match="minimally"):
        read_varint(b"\x80\x00", 0)
    with pytest.raises(CarVarintError, match="longer"):
        read_varint(b"\xff" * 10, 0)
    with pytest.raises(CarVarintError):
        encode_varint(2**63)


# --- malformed input --------------------------------------------------------------------


def test_empty_input() -> None:
    with pytest.raises(CarTruncatedError, match="empty"):
        read_car(b"")


@pytest.mark.parametrize("cut", range(1, HEADER_LENGTH))
def test_truncated_header(cut: int) -> None:
    with pytest.raises(CarTruncatedError, match="header"):
        read_car(CAR[:cut])


def test_truncated_blocks_at_every_offset() -> None:
    section_ends = {HEADER_LENGTH}
    pos = HEADER_LENGTH
    for cid, data in BLOCKS:
        pos += len(section(cid.cid_bytes, data))
        section_ends.add(pos)
    for cut in range(HEADER_LENGTH, len(CAR)):
        if cut in section_ends:
            assert len(read_car(CAR[:cut]).blocks) < len(BLOCKS)
            continue
        with pytest.raises(CarTruncatedError, match="block section"):
            read_car(CAR[:cut])
        with pytest.raises(CarTruncatedError):
            list(iter_car(io.BytesIO(CAR[:cut])))


def test_overlong_section_varint() -> None:
    cid_bytes, data = BLOCKS[0]
    bad = b"\xff" * 10
    with pytest.raises(CarVarintError):
        read_car(CAR[:HEADER_LENGTH] + bad + cid_bytes.cid_bytes + data)


def test_non_minimal_section_varint() -> None:
    cid, data = BLOCKS[0]
    length = len(cid.cid_bytes) + len(data)
    padded = bytes([(length & 0x7F) | 0x80, length >> 7 | 0x80, 0x00])
    with pytest.raises(CarVarintError, match="minimally"):
        read_car(CAR[:HEADER_LENGTH] + padded + cid.cid_bytes + data)


def test_non_minimal_header_varint() -> None:
    body = encode({"version": 1, "roots": [ROOT]})
    with pytest.raises(CarVarintError):
        read_car(bytes([len(body) | 0x80, 0x00]) + body)


def test_wrong_hash() -> None:
    cid, data = BLOCKS[0]
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    bad = CAR[:HEADER_LENGTH] + section(cid.cid_bytes, tampered)
    with pytest.raises(CarHashMismatchError, match=cid.encode()):
        read_car(bad)
    with pytest.raises(CarHashMismatchError):
        list(iter_car(io.BytesIO(bad)))
    assert read_car(bad, verify_hashes=False).blocks == {cid: tampered}


def test_raw_cid_hash_checked_too() -> None:
    cid = cid_for_raw(b"blob")
    assert read_car(CAR[:HEADER_LENGTH] + section(cid.cid_bytes, b"blob")).blocks
    with pytest.raises(CarHashMismatchError):
        read_car(CAR[:HEADER_LENGTH] + section(cid.cid_bytes, b"blub"))


def _cid(version: int, codec: int, hash_code: int, digest: bytes) -> bytes:
    return (
        encode_varint(version)
        + encode_varint(codec)
        + encode_varint(hash_code)
        + encode_varint(len(digest))
        + digest
    )


@pytest.mark.parametrize(
    ("cid_bytes", "message"),
    [
        (_cid(1, 0x71, 0x13, hashlib.sha512(b"x").digest()), "hash function 0x13"),
        (_cid(1, 0x71, 0xB220, hashlib.blake2b(b"x", digest_size=32).digest()), "0xb220"),
        (_cid(1, 0x70, 0x12, hashlib.sha256(b"x").digest()), "codec 0x70"),
        (_cid(2, 0x71, 0x12, hashlib.sha256(b"x").digest()), "version 2"),
        (b"\x12\x20" + hashlib.sha256(b"x").digest(), "CIDv0"),
        (_cid(1, 0x71, 0x12, hashlib.sha256(b"x").digest()[:20]), "length must be 32"),
    ],
)
def test_unsupported_cids(cid_bytes: bytes, message: str) -> None:
    with pytest.raises(CarCidError, match=message):
        read_car(CAR[:HEADER_LENGTH] + section(cid_bytes, b"x"))


@pytest.mark.parametrize("length", [0, 1, 35])
def test_section_too_short_for_cid(length: int) -> None:
    body = ROOT.cid_bytes[:length]
    with pytest.raises(CarCidError, match=r"too short|malformed"):
        read_car(CAR[:HEADER_LENGTH] + encode_varint(length) + body)


def test_oversize_block_rejected_before_it_is_buffered() -> None:
    decoder = CarDecoder(max_block_size=1000)
    decoder.feed(CAR[:HEADER_LENGTH])
    with pytest.raises(CarLimitError, match="1000-byte block limit"):
        decoder.feed(encode_varint(36 + 1001))
    big = b"y" * 1001
    with pytest.raises(CarLimitError):
        read_car(car_bytes(ROOT, [(cid_for_raw(big), big)]), max_block_size=1000)
    exact = b"y" * 1000
    assert read_car(car_bytes(ROOT, [(cid_for_raw(exact), exact)]), max_block_size=1000)


def test_too_many_blocks() -> None:
    assert len(read_car(CAR, max_blocks=len(BLOCKS)).blocks) == len(BLOCKS)
    with pytest.raises(CarLimitError, match="more than 19 blocks"):
        read_car(CAR, max_blocks=len(BLOCKS) - 1)
    with pytest.raises(CarLimitError):
        list(iter_car(io.BytesIO(CAR), max_blocks=3))


def test_duplicates_count_towards_block_limit() -> None:
    data = car_bytes(ROOT, [BLOCKS[0]] * 5)
    with pytest.raises(CarLimitError):
        read_car(data, max_blocks=4)


def test_total_size_limit() -> None:
    assert read_car(CAR, max_total_size=len(CAR))
    with pytest.raises(CarLimitError, match="larger than"):
        read_car(CAR, max_total_size=len(CAR) - 1)
    with pytest.raises(CarLimitError):
        list(iter_car(io.BytesIO(CAR), max_total_size=100))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1, [ROOT]], "must be a map"),
        (1, "must be a map"),
        ("car", "must be a map"),
        ({"version": 2, "roots": [ROOT]}, "version must be 1"),
        ({"version": "1", "roots": [ROOT]}, "version must be 1"),
        ({"version": True, "roots": [ROOT]}, "version must be 1"),
        ({"roots": [ROOT]}, "version must be 1"),
        ({"version": 1}, "roots must be a list"),
        ({"version": 1, "roots": ROOT}, "roots must be a list"),
        ({"version": 1, "roots": [ROOT.encode()]}, "root is not"),
        ({"version": 1, "roots": [CID(_cid(1, 0x71, 0x13, b"\x00" * 64))]}, "root is not"),
    ],
)
def test_bad_headers(value: object, message: str) -> None:
    with pytest.raises(CarHeaderError, match=message):
        read_car(header(value) + CAR[HEADER_LENGTH:])


def test_header_extra_fields_tolerated() -> None:
    data = header({"version": 1, "roots": [ROOT], "extra": "x"}) + CAR[HEADER_LENGTH:]
    assert read_car(data).blocks == read_car(CAR).blocks


def test_header_not_cbor() -> None:
    with pytest.raises(CarHeaderError, match="DAG-CBOR"):
        read_car(b"\x03\xff\xff\xff")
    with pytest.raises(CarHeaderError, match="DAG-CBOR"):
        read_car(header({"version": 1, "roots": [ROOT]})[:-1] + b"\xff")


def test_header_empty_or_huge() -> None:
    with pytest.raises(CarHeaderError, match="empty"):
        read_car(b"\x00")
    with pytest.raises(CarLimitError, match="header"):
        read_car(encode_varint(10**6) + b"\xa0")


def test_garbage_after_valid_blocks() -> None:
    with pytest.raises(CarError):
        read_car(CAR + b"\x05garbage")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_garbage_only_raises_car_errors(data: bytes) -> None:
    with contextlib.suppress(CarError):
        read_car(data)
    with contextlib.suppress(CarError):
        list(iter_car(io.BytesIO(data)))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(CAR) - 1), st.integers(1, 255))
def test_corrupted_byte_raises_car_error(offset: int, xor: int) -> None:
    data = bytearray(CAR)
    data[offset] ^= xor
    try:
        car = read_car(bytes(data))
    except CarError:
        return
    # Only a change that keeps every hash intact can pass, e.g. the length of the last block.
    assert all(cid_for_cbor(block) == cid for cid, block in car.blocks.items())


# --- async stream reader ----------------------------------------------------------------


async def feed_slowly(reader: asyncio.StreamReader, data: bytes, piece: int) -> None:
    for pos in range(0, len(data), piece):
        reader.feed_data(data[pos : pos + piece])
        await asyncio.sleep(0)
    reader.feed_eof()


async def read_async(data: bytes, piece: int, **limits: Any) -> tuple[list[CID], Blocks]:
    reader = asyncio.StreamReader()
    feeder = asyncio.create_task(feed_slowly(reader, data, piece))
    try:
        stream = await aiter_car(reader, **limits)
        return stream.roots, [block async for block in stream]
    finally:
        await feeder


@pytest.mark.parametrize("piece", [1, 7, 100, 70_000])
async def test_async_reader_round_trip(piece: int) -> None:
    roots, blocks = await read_async(CAR, piece)
    assert roots == [ROOT]
    assert blocks == BLOCKS


async def test_async_reader_many_chunks() -> None:
    blocks = make_blocks(3000)
    data = car_bytes(ROOT, blocks)
    assert len(data) > 3 * READ_CHUNK_SIZE
    assert (await read_async(data, 4096))[1] == blocks


async def test_async_reader_errors() -> None:
    with pytest.raises(CarTruncatedError, match="empty"):
        await read_async(b"", 10)
    with pytest.raises(CarTruncatedError, match="header"):
        await read_async(CAR[:5], 2)
    with pytest.raises(CarTruncatedError, match="block section"):
        await read_async(CAR[:-3], 5)
    with pytest.raises(CarLimitError):
        await read_async(CAR, 5, max_blocks=2)
    cid, data = BLOCKS[0]
    with pytest.raises(CarHashMismatchError):
        await read_async(CAR[:HEADER_LENGTH] + section(cid.cid_bytes, data + b"!"), 5)


async def test_async_reader_yields_to_event_loop() -> None:
    blocks = make_blocks(3000)
    data = car_bytes(ROOT, blocks)
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    stream = await aiter_car(reader)
    assert [block async for block in stream] == blocks
    task.cancel()
    assert ticks > 1


async def test_async_reader_over_aiohttp_response() -> None:
    blocks = make_blocks(2000)
    data = car_bytes(ROOT, blocks)

    async def get_repo(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/vnd.ipld.car"})
        await response.prepare(request)
        for chunk in write_car(ROOT, blocks, chunk_size=1000):
            await response.write(chunk)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/car", get_repo)
    async with TestServer(app) as server, ClientSession() as session:
        async with session.get(server.make_url("/car")) as response:
            stream = await aiter_car(response.content)
            assert stream.roots == [ROOT]
            assert [block async for block in stream] == blocks
        async with session.get(server.make_url("/car")) as response:
            with pytest.raises(CarLimitError):
                stream = await aiter_car(response.content, max_blocks=10)
                _ = [block async for block in stream]
    assert len(data) > READ_CHUNK_SIZE
