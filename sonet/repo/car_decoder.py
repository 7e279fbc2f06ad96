"""Incremental (sans-IO) CARv1 decoder for untrusted input, shared by every CAR reader.

https://ipld.io/specs/transport/car/carv1/#format-description: a varint-prefixed DAG-CBOR header
``{version: 1, roots: [CID]}`` followed by sections ``varint(len(cid) + len(data)) | cid | data``.
https://atproto.com/specs/repository#car-file-serialization and
https://atproto.com/specs/repository#security-considerations: atproto blocks use CIDv1 with
sha2-256 and the dag-cbor or raw codec; every block is checked against its hash, and the block
count, block size and total size are bounded before any bytes are buffered.
"""

from __future__ import annotations

import hashlib
from typing import Final, TypedDict

from sonet.repo.car_errors import (
    CarCidError,
    CarError,
    CarHashMismatchError,
    CarHeaderError,
    CarLimitError,
    CarTruncatedError,
)
from sonet.repo.car_varint import read_varint
from sonet.repo.cbor import MAX_BLOCK_SIZE, CborDecodeError, decode
from sonet.repo.cid import CID, DAG_CBOR, RAW, SHA2_256, is_blessed

__all__ = [
    "CID_LENGTH",
    "DEFAULT_MAX_BLOCKS",
    "DEFAULT_MAX_TOTAL_SIZE",
    "MAX_HEADER_SIZE",
    "CarDecoder",
    "CarLimits",
]

CID_LENGTH: Final = 36
"""Bytes in a CIDv1 with a 32-byte sha2-256 digest: version, codec, hash code, length, digest."""
MAX_HEADER_SIZE: Final = 64 * 1024
DEFAULT_MAX_BLOCKS: Final = 2_000_000
DEFAULT_MAX_TOTAL_SIZE: Final = 1024 * 1024 * 1024

_DAG_CBOR_PREFIX: Final = CID.CIDV1_DAG_CBOR_SHA256_32_PFX
_RAW_PREFIX: Final = CID.CIDV1_RAW_SHA256_32_PFX
_CIDV0_PREFIX: Final = b"\x12\x20"

Block = tuple[CID, bytes]


class CarLimits(TypedDict, total=False):
    """Keyword options of :class:`CarDecoder` (and of every CAR reader) that bound untrusted
    input: block count, block size and total size in bytes, and whether to check hashes."""

    max_blocks: int
    max_block_size: int
    max_total_size: int
    verify_hashes: bool


class CarDecoder:
    """Feed CAR bytes in chunks of any size; get back the complete blocks they finish.

    :attr:`roots` is None until the whole header has been read. Call :meth:`close` at the end
    of input to detect truncation. Duplicate blocks are passed through (they count towards
    ``max_blocks``); the reference implementation tolerates them.
    """

    __slots__ = (
        "_blocks",
        "_buffered",
        "_chunks",
        "_max_blocks",
        "_max_section",
        "_max_total_size",
        "_need",
        "_total",
        "_verify_hashes",
        "roots",
    )

    def __init__(
        self,
        *,
        max_blocks: int = DEFAULT_MAX_BLOCKS,
        max_block_size: int = MAX_BLOCK_SIZE,
        max_total_size: int = DEFAULT_MAX_TOTAL_SIZE,
        verify_hashes: bool = True,
    ) -> None:
        self.roots: list[CID] | None = None
        self._max_blocks = max_blocks
        self._max_section = max_block_size + CID_LENGTH
        self._max_total_size = max_total_size
        self._verify_hashes = verify_hashes
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._need = 1
        self._total = 0
        self._blocks = 0

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[Block]:
        """Consume ``chunk``; return the blocks completed by it, in archive order."""
        if not chunk:
            return []
        data = chunk if isinstance(chunk, bytes) else bytes(chunk)
        self._total += len(data)
        if self._total > self._max_total_size:
            raise CarLimitError(f"CAR is larger than the {self._max_total_size}-byte limit")
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered < self._need:
            return []
        if len(self._chunks) > 1:
            data = b"".join(self._chunks)
        pos = 0
        blocks: list[Block] = []
        if self.roots is None:
            pos = self._parse_header(data)
        if self.roots is not None:
            pos = self._parse_sections(data, pos, blocks)
        rest = data[pos:]
        self._chunks = [rest] if rest else []
        self._buffered = len(rest)
        return blocks

    def close(self) -> list[CID]:
        """Signal the end of input: the roots, or :class:`CarTruncatedError` if it ended early."""
        if self.roots is None:
            if not self._total:
                raise CarTruncatedError("empty input: no CAR header")
            raise CarTruncatedError("input ended inside the CAR header")
        if self._buffered:
            raise CarTruncatedError(
                f"input ended inside a block section ({self._buffered} of at least "
                f"{self._need} bytes present)"
            )
        return self.roots

    def _parse_header(self, data: bytes) -> int:
        prefix = read_varint(data, 0)
        if prefix is None:
            self._need = len(data) + 1
            return 0
        length, start = prefix
        if length == 0:
            raise CarHeaderError("CAR header is empty")
        if length > MAX_HEADER_SIZE:
            raise CarLimitError(f"CAR header of {length} bytes exceeds {MAX_HEADER_SIZE} bytes")
        end = start + length
        if end > len(data):
            self._need = end
            return 0
        self.roots = _parse_header_block(data[start:end])
        self._need = 0
        return end

    def _parse_sections(self, data: bytes, pos: int, out: list[Block]) -> int:
        """Append every complete section of ``data[pos:]`` to ``out``; return the stop offset."""
        end_of_data = len(data)
        verify = self._verify_hashes
        max_section = self._max_section
        max_blocks = self._max_blocks
        count = self._blocks
        sha256 = hashlib.sha256
        starts_with = data.startswith
        append = out.append
        self._need = 0
        while pos < end_of_data:
            first = data[pos]
            if first < 0x80:
                length, start = first, pos + 1
            elif pos + 1 < end_of_data and 0 < data[pos + 1] < 0x80:
                length, start = (first & 0x7F) | (data[pos + 1] << 7), pos + 2
            else:
                prefix = read_varint(data, pos)
                if prefix is None:
                    self._need = end_of_data - pos + 1
                    break
                length, start = prefix
            if length > max_section:
                raise CarLimitError(
                    f"block section of {length} bytes exceeds the "
                    f"{max_section - CID_LENGTH}-byte block limit"
                )
            end = start + length
            if end > end_of_data:
                self._need = end - pos
                break
            count += 1
            if count > max_blocks:
                raise CarLimitError(f"CAR has more than {max_blocks} blocks")
            if length < CID_LENGTH or not (
                starts_with(_DAG_CBOR_PREFIX, start) or starts_with(_RAW_PREFIX, start)
            ):
                raise CarCidError(_describe_bad_cid(data[start:end], count))
            block = data[start + CID_LENGTH : end]
            if verify and not starts_with(sha256(block).digest(), start + 4):
                cid = CID(data[start : start + CID_LENGTH])
                raise CarHashMismatchError(f"block {count} does not hash to its CID {cid.encode()}")
            append((CID(data[start : start + CID_LENGTH]), block))
            pos = end
        self._blocks = count
        return pos


def _parse_header_block(block: bytes) -> list[CID]:
    try:
        header = decode(block, max_size=MAX_HEADER_SIZE)
    except CborDecodeError as exc:
        raise CarHeaderError(f"CAR header is not valid DAG-CBOR: {exc}") from None
    if not isinstance(header, dict):
        raise CarHeaderError(f"CAR header must be a map, got {type(header).__name__}")
    version = header.get("version")
    if type(version) is not int or version != 1:
        raise CarHeaderError(f"CAR header version must be 1, got {version!r}")
    roots = header.get("roots")
    if not isinstance(roots, list):
        raise CarHeaderError("CAR header roots must be a list of CIDs")
    for root in roots:
        if not isinstance(root, CID) or not is_blessed(root):
            raise CarHeaderError(f"CAR header root is not a sha2-256 dag-cbor/raw CID: {root!r}")
    return roots


def _describe_bad_cid(section: bytes, index: int) -> str:
    """Explain why a section does not start with an atproto CID (for the error message)."""
    where = f"block {index}"
    if section[:2] == _CIDV0_PREFIX:
        return f"{where}: CIDv0 is not supported, only CIDv1"
    try:
        fields: list[int] = []
        pos = 0
        for _ in range(4):
            varint = read_varint(section, pos)
            if varint is None:
                return f"{where}: section of {len(section)} bytes is too short for a CID"
            value, pos = varint
            fields.append(value)
    except CarError:
        return f"{where}: malformed CID varint"
    version, codec, hash_code, digest_length = fields
    if version != 1:
        return f"{where}: unsupported CID version {version}"
    if codec not in (DAG_CBOR, RAW):
        return f"{where}: unsupported CID codec 0x{codec:x} (only dag-cbor and raw)"
    if hash_code != SHA2_256:
        return f"{where}: unsupported hash function 0x{hash_code:x} (only sha2-256)"
    if digest_length != 32:
        return f"{where}: sha2-256 digest length must be 32, got {digest_length}"
    return f"{where}: section of {len(section)} bytes is too short for a CID"
