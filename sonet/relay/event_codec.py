"""A compact binary record of one sequenced event (on-disk log segments, Redis batches).

``crc32 | seq | sequenced_at | frame length | did length | kind length | did | kind | frame``,
little-endian; the CRC covers everything after itself, so a torn or corrupted record is detected.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from typing import Final

from sonet.storage.sequencer_store import SequencedEvent

__all__ = [
    "HEADER_SIZE",
    "CodecError",
    "decode_record",
    "encode_record",
    "pack_events",
    "record_parts",
    "record_time",
    "unpack_events",
]

_CRC: Final = struct.Struct("<I")
_FIELDS: Final = struct.Struct("<QQIHB")
HEADER_SIZE: Final = _CRC.size + _FIELDS.size
MAX_FRAME: Final = 64 * 1024 * 1024


class CodecError(ValueError):
    """Bytes that are not a sequence of complete, intact event records."""


def record_parts(event: SequencedEvent) -> tuple[bytes, bytes]:
    """One event as a record in two parts, its head and its frame (for vectored writes, which
    spare copying the frame)."""
    did = event.did.encode()
    kind = event.kind.encode()
    head = _FIELDS.pack(event.seq, event.sequenced_at, len(event.frame), len(did), len(kind))
    head += did + kind
    return _CRC.pack(zlib.crc32(event.frame, zlib.crc32(head))) + head, event.frame


def encode_record(event: SequencedEvent) -> bytes:
    """One event as a record."""
    return b"".join(record_parts(event))


def record_time(header: bytes) -> int:
    """The ``sequenced_at`` of the record whose header is ``header``."""
    return int(_FIELDS.unpack_from(header, _CRC.size)[1])


def decode_record(
    data: bytes | memoryview, pos: int, with_body: bool
) -> tuple[SequencedEvent | None, int, int] | None:
    """The record at ``pos``: (event, or None when ``with_body`` is false; its seq; the next
    position). None if the record is incomplete or fails its CRC."""
    end = pos + HEADER_SIZE
    if end > len(data):
        return None
    (crc,) = _CRC.unpack_from(data, pos)
    seq, at, frame_len, did_len, kind_len = _FIELDS.unpack_from(data, pos + _CRC.size)
    if frame_len > MAX_FRAME:
        return None
    stop = end + did_len + kind_len + frame_len
    if stop > len(data):
        return None
    if not with_body:
        return None, seq, stop
    payload = bytes(data[end:stop])
    if zlib.crc32(payload, zlib.crc32(data[pos + _CRC.size : end])) != crc:
        return None
    try:
        did = payload[:did_len].decode()
        kind = payload[did_len : did_len + kind_len].decode()
    except UnicodeDecodeError:
        return None
    return SequencedEvent(seq, did, kind, payload[did_len + kind_len :], at), seq, stop


def pack_events(events: Sequence[SequencedEvent]) -> bytes:
    """Several events as consecutive records."""
    return b"".join(encode_record(event) for event in events)


def unpack_events(data: bytes) -> list[SequencedEvent]:
    """The events of :func:`pack_events`; :class:`CodecError` if anything is off."""
    events: list[SequencedEvent] = []
    pos = 0
    while pos < len(data):
        record = decode_record(data, pos, with_body=True)
        if record is None or record[0] is None:
            raise CodecError(f"bad event record at byte {pos}")
        events.append(record[0])
        pos = record[2]
    return events
