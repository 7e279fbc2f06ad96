"""Unsigned LEB128 varints as CAR length prefixes use them.

https://ipld.io/specs/transport/car/carv1/#format-description: each section is prefixed by an
unsigned varint. Following the multiformats unsigned-varint rules, a varint is at most 9 bytes
and must be minimally encoded; a prefix cut off by the end of the buffer reads as "incomplete"
so that streaming readers can wait for more bytes.
"""

from __future__ import annotations

from typing import Final

from sonet.repo.car_errors import CarVarintError

__all__ = ["MAX_VARINT_BYTES", "encode_varint", "read_varint"]

MAX_VARINT_BYTES: Final = 9
_TABLE_SIZE: Final = 1 << 14


def _encode(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL: Final = tuple(_encode(value) for value in range(_TABLE_SIZE))


def encode_varint(value: int) -> bytes:
    """The minimal varint of a non-negative integer (table lookup below 16384)."""
    if value < _TABLE_SIZE:
        return _SMALL[value]
    if value >> (7 * MAX_VARINT_BYTES):
        raise CarVarintError(f"{value} does not fit in a {MAX_VARINT_BYTES}-byte varint")
    return _encode(value)


def read_varint(data: bytes, pos: int) -> tuple[int, int] | None:
    """Read a varint at ``data[pos:]``: ``(value, next_pos)``, or None if it runs past the end.

    Raises :class:`CarVarintError` for a non-minimal or over-long varint.
    """
    value = 0
    end = len(data)
    for index in range(MAX_VARINT_BYTES):
        if pos + index >= end:
            return None
        byte = data[pos + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            if byte == 0 and index:
                raise CarVarintError("varint is not minimally encoded")
            return value, pos + index + 1
    raise CarVarintError(f"varint longer than {MAX_VARINT_BYTES} bytes")
