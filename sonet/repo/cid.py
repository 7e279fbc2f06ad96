"""Content identifiers (CIDs) as used by atproto.

https://atproto.com/specs/data-model#link-and-cid-formats: CIDv1, base32 multibase in strings,
sha-256 multihash, with the ``dag-cbor`` (0x71) codec for data blocks and ``raw`` (0x55) for blobs.
"""

from __future__ import annotations

import hashlib

from cbrrr import CID

__all__ = [
    "CID",
    "DAG_CBOR",
    "RAW",
    "InvalidCidError",
    "cid_for_cbor",
    "cid_for_raw",
    "is_blessed",
    "parse_cid",
    "parse_cid_bytes",
]

DAG_CBOR = 0x71
RAW = 0x55
SHA2_256 = 0x12

_DAG_CBOR_PREFIX = CID.CIDV1_DAG_CBOR_SHA256_32_PFX
_RAW_PREFIX = CID.CIDV1_RAW_SHA256_32_PFX


class InvalidCidError(ValueError):
    """A CID string or byte string is malformed or of a kind atproto does not allow."""


def cid_for_cbor(block: bytes) -> CID:
    """The CIDv1 (dag-cbor, sha-256) of an encoded DAG-CBOR block."""
    return CID(_DAG_CBOR_PREFIX + hashlib.sha256(block).digest())


def cid_for_raw(data: bytes) -> CID:
    """The CIDv1 (raw, sha-256) of a blob."""
    return CID(_RAW_PREFIX + hashlib.sha256(data).digest())


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 56:
            raise InvalidCidError("truncated or oversized varint in CID")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def parse_cid_bytes(raw: bytes) -> CID:
    """Parse a binary CIDv1 (no multibase prefix), checking its structure."""
    version, pos = _read_varint(raw, 0)
    if version != 1:
        raise InvalidCidError(f"only CIDv1 is supported, got version {version}")
    _codec, pos = _read_varint(raw, pos)
    _hash_code, pos = _read_varint(raw, pos)
    length, pos = _read_varint(raw, pos)
    if len(raw) - pos != length or length == 0:
        raise InvalidCidError("CID multihash length does not match its digest")
    return CID(bytes(raw))


def parse_cid(text: str) -> CID:
    """Parse a base32 (``b...``) CIDv1 string as found in ``$link`` and XRPC parameters."""
    if not isinstance(text, str) or len(text) < 8 or len(text) > 256 or not text.startswith("b"):
        raise InvalidCidError(f"not a base32 CIDv1 string: {text!r}")
    try:
        decoded = CID.decode(text)
    except Exception as exc:  # binascii.Error and ValueError from the decoder
        raise InvalidCidError(f"not a base32 CIDv1 string: {text!r}") from exc
    return parse_cid_bytes(decoded.cid_bytes)


def is_blessed(cid: CID) -> bool:
    """True for the two CID forms atproto repositories use (dag-cbor or raw, sha-256)."""
    return bool(cid.is_cidv1_dag_cbor_sha256_32() or cid.is_cidv1_raw_sha256_32())
