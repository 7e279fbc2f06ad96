"""DAG-CBOR encoding and decoding with atproto data-model rules.

https://atproto.com/specs/data-model#data-model: canonical DAG-CBOR (sorted map keys, minimal
integers), string map keys, tag 42 for links only, no floats. Decoding untrusted bytes is bounded
in size; ``cbrrr`` rejects non-canonical encodings, unknown tags and trailing data.
"""

from __future__ import annotations

from typing import Any

import cbrrr
from cbrrr import _cbrrr  # the C decoder itself: one Python frame less per block

from sonet.repo.cid import CID, cid_for_cbor

__all__ = [
    "MAX_BLOCK_SIZE",
    "CborDecodeError",
    "CborEncodeError",
    "check_no_floats",
    "decode",
    "decode_json",
    "encode",
    "encode_with_cid",
]

MAX_BLOCK_SIZE = 2 * 1024 * 1024
"""Largest single block accepted from untrusted input (records are limited well below this)."""


_decode = _cbrrr.decode_dag_cbor


class CborDecodeError(ValueError):
    """Bytes are not a valid, canonical DAG-CBOR value within the limits."""


class CborEncodeError(ValueError):
    """A value cannot be represented in the atproto data model."""


def encode(value: Any) -> bytes:
    """Encode a data-model value (``bytes``, :class:`CID`, no floats) as canonical DAG-CBOR."""
    try:
        return cbrrr.encode_dag_cbor(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CborEncodeError(str(exc)) from exc


def encode_with_cid(value: Any) -> tuple[CID, bytes]:
    """Encode ``value`` and return its CID together with the block bytes."""
    block = encode(value)
    return cid_for_cbor(block), block


def decode(data: bytes, *, max_size: int = MAX_BLOCK_SIZE) -> Any:
    """Decode one DAG-CBOR value occupying all of ``data``."""
    if len(data) > max_size:
        raise CborDecodeError(f"block of {len(data)} bytes exceeds the {max_size}-byte limit")
    try:
        value, length = _decode(data, CID, False)
    except (ValueError, TypeError, RecursionError, EOFError, IndexError) as exc:
        raise CborDecodeError(str(exc) or exc.__class__.__name__) from exc
    if length != len(data):
        raise CborDecodeError("trailing bytes after the DAG-CBOR value")
    return value


def decode_json(data: bytes, *, max_size: int = MAX_BLOCK_SIZE) -> Any:
    """Decode DAG-CBOR straight into the JSON form (``$link`` / ``$bytes`` objects)."""
    if len(data) > max_size:
        raise CborDecodeError(f"block of {len(data)} bytes exceeds the {max_size}-byte limit")
    try:
        value, length = _decode(data, CID, True)
    except (ValueError, TypeError, RecursionError, EOFError, IndexError) as exc:
        raise CborDecodeError(str(exc) or exc.__class__.__name__) from exc
    if length != len(data):
        raise CborDecodeError("trailing bytes after the DAG-CBOR value")
    return value


def check_no_floats(value: Any) -> None:
    """Reject floats anywhere in a decoded value: the data model has no float type."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            raise CborDecodeError("floats are not allowed in the atproto data model")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
