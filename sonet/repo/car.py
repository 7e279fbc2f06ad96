"""CARv1 archives: a streaming writer and readers for untrusted bytes, files and async streams.

https://ipld.io/specs/transport/car/carv1/ and
https://atproto.com/specs/repository#car-file-serialization. The writer emits the header
``{version: 1, roots: [root]}`` (or no roots) and one ``varint | cid | data`` section per block.
The readers share :class:`~sonet.repo.car_decoder.CarDecoder`, which checks every CID and hash
and enforces limits (https://atproto.com/specs/repository#security-considerations); all their
errors are :class:`CarError` subclasses.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Protocol, Unpack

from sonet.repo.car_decoder import (
    DEFAULT_MAX_BLOCKS,
    DEFAULT_MAX_TOTAL_SIZE,
    MAX_HEADER_SIZE,
    Block,
    CarDecoder,
    CarLimits,
)
from sonet.repo.car_errors import (
    CarBlockError,
    CarCidError,
    CarError,
    CarHashMismatchError,
    CarHeaderError,
    CarLimitError,
    CarTruncatedError,
    CarVarintError,
)
from sonet.repo.car_varint import encode_varint
from sonet.repo.cbor import MAX_BLOCK_SIZE, encode
from sonet.repo.cid import CID

__all__ = [
    "DEFAULT_MAX_BLOCKS",
    "DEFAULT_MAX_TOTAL_SIZE",
    "MAX_BLOCK_SIZE",
    "MAX_HEADER_SIZE",
    "READ_CHUNK_SIZE",
    "WRITE_CHUNK_SIZE",
    "AsyncCarBlockStream",
    "CarBlockError",
    "CarBlockStream",
    "CarCidError",
    "CarError",
    "CarFile",
    "CarHashMismatchError",
    "CarHeaderError",
    "CarLimitError",
    "CarLimits",
    "CarTruncatedError",
    "CarVarintError",
    "aiter_car",
    "car_bytes",
    "iter_car",
    "read_car",
    "write_car",
]

WRITE_CHUNK_SIZE: Final = 64 * 1024
READ_CHUNK_SIZE: Final = 64 * 1024


class SupportsRead(Protocol):
    """A synchronous binary stream (``open(..., "rb")``, ``io.BytesIO``, a socket file)."""

    def read(self, size: int, /) -> bytes: ...


class SupportsReadExactly(Protocol):
    """An async byte stream such as ``asyncio.StreamReader`` or aiohttp's ``StreamReader``."""

    async def readexactly(self, n: int, /) -> bytes: ...


def write_car(
    root: CID | None,
    blocks: Iterable[tuple[CID, bytes]],
    *,
    chunk_size: int = WRITE_CHUNK_SIZE,
) -> Iterator[bytes]:
    """Stream a CARv1 archive as chunks of about ``chunk_size`` bytes.

    ``root`` None writes an empty roots list, as the reference implementation does. Blocks are
    written as given: the caller supplies matching CIDs and removes duplicates.
    """
    header = encode({"version": 1, "roots": [] if root is None else [root]})
    parts = [encode_varint(len(header)), header]
    append = parts.append
    size = len(header)
    for cid, data in blocks:
        cid_bytes = cid.cid_bytes
        length = len(cid_bytes) + len(data)
        prefix = encode_varint(length)
        append(prefix)
        append(cid_bytes)
        append(data)
        size += len(prefix) + length
        if size >= chunk_size:
            yield b"".join(parts)
            parts.clear()
            size = 0
    if parts:
        yield b"".join(parts)


def car_bytes(root: CID | None, blocks: Iterable[tuple[CID, bytes]]) -> bytes:
    """The whole CARv1 archive of :func:`write_car` as one byte string."""
    return b"".join(write_car(root, blocks, chunk_size=sys.maxsize))


@dataclass(frozen=True, slots=True)
class CarFile:
    """A fully read archive: header roots and blocks by CID, in archive order (first wins)."""

    roots: list[CID]
    blocks: dict[CID, bytes]

    @property
    def root(self) -> CID:
        """The single root of a repository export; :class:`CarHeaderError` otherwise."""
        if len(self.roots) != 1:
            raise CarHeaderError(f"expected exactly one CAR root, got {len(self.roots)}")
        return self.roots[0]


def read_car(
    data: bytes | bytearray | memoryview,
    **limits: Unpack[CarLimits],
) -> CarFile:
    """Parse and verify a whole CAR held in memory; duplicate blocks keep their first copy."""
    decoder = CarDecoder(**limits)
    blocks: dict[CID, bytes] = {}
    setdefault = blocks.setdefault
    view = memoryview(data).cast("B")
    # Feeding in chunks keeps the short-lived lists small, which saves garbage-collector time.
    for offset in range(0, len(view), READ_CHUNK_SIZE):
        for cid, block in decoder.feed(view[offset : offset + READ_CHUNK_SIZE]):
            setdefault(cid, block)
    return CarFile(decoder.close(), blocks)


class CarBlockStream(Iterator[Block]):
    """Blocks of a CAR read from a synchronous stream; :attr:`roots` is read up front."""

    __slots__ = ("_blocks", "roots")

    def __init__(self, roots: list[CID], blocks: Iterator[Block]) -> None:
        self.roots = roots
        self._blocks = blocks

    def __next__(self) -> Block:
        return next(self._blocks)


def iter_car(
    stream: SupportsRead,
    **limits: Unpack[CarLimits],
) -> CarBlockStream:
    """Read the header from ``stream`` now, then its verified blocks lazily, in order.

    Duplicate blocks are yielded as they appear. I/O errors of the stream propagate unchanged.
    """
    decoder = CarDecoder(**limits)
    pending: list[Block] = []
    while decoder.roots is None:
        pending = _feed_header(decoder, stream.read(READ_CHUNK_SIZE))
    return CarBlockStream(decoder.roots, _stream_blocks(stream, decoder, pending))


def _feed_header(decoder: CarDecoder, chunk: bytes) -> list[Block]:
    """Feed a chunk read while the header is incomplete; an empty one (the end of input)
    raises :class:`CarTruncatedError`."""
    if not chunk:
        decoder.close()  # raises: the input ended before the header did
    return decoder.feed(chunk)


def _stream_blocks(
    stream: SupportsRead, decoder: CarDecoder, pending: list[Block]
) -> Iterator[Block]:
    yield from pending
    while chunk := stream.read(READ_CHUNK_SIZE):
        yield from decoder.feed(chunk)
    decoder.close()


class AsyncCarBlockStream(AsyncIterator[Block]):
    """Blocks of a CAR read from an async stream; :attr:`roots` is read up front."""

    __slots__ = ("_blocks", "roots")

    def __init__(self, roots: list[CID], blocks: AsyncIterator[Block]) -> None:
        self.roots = roots
        self._blocks = blocks

    async def __anext__(self) -> Block:
        return await anext(self._blocks)


async def aiter_car(
    reader: SupportsReadExactly,
    **limits: Unpack[CarLimits],
) -> AsyncCarBlockStream:
    """Await the header from ``reader``, then ``async for`` its verified blocks, in order.

    Reads ``READ_CHUNK_SIZE`` bytes at a time until end of stream and yields to the event loop
    after each chunk, so a fast source cannot starve other tasks.
    """
    decoder = CarDecoder(**limits)
    pending: list[Block] = []
    while decoder.roots is None:
        pending = _feed_header(decoder, await _read_chunk(reader))
    return AsyncCarBlockStream(decoder.roots, _async_stream_blocks(reader, decoder, pending))


async def _read_chunk(reader: SupportsReadExactly) -> bytes:
    """Up to ``READ_CHUNK_SIZE`` bytes; fewer only at end of stream, b"" once it is reached."""
    try:
        return await reader.readexactly(READ_CHUNK_SIZE)
    except asyncio.IncompleteReadError as exc:
        return exc.partial


async def _async_stream_blocks(
    reader: SupportsReadExactly, decoder: CarDecoder, pending: list[Block]
) -> AsyncIterator[Block]:
    for block in pending:
        yield block
    while chunk := await _read_chunk(reader):
        for block in decoder.feed(chunk):
            yield block
        await asyncio.sleep(0)
    decoder.close()
