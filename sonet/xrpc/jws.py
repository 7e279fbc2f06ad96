"""Splitting a compact JWS (``header.payload.signature``) without trusting it.

https://www.rfc-editor.org/rfc/rfc7515#section-7.1: three unpadded base64url segments, the first
two JSON objects. Used by both the session-token and the service-JWT verifiers, which then
check the signature themselves (a hand-rolled path is ~10x faster than pyjwt's decoder, and
atproto's ECDSA signatures need the low-S checks of :mod:`sonet.crypto` anyway).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, Final

import orjson

__all__ = [
    "CompactJws",
    "MalformedJwtError",
    "b64url_decode",
    "b64url_encode",
    "decode_unverified_claims",
    "split_jws",
]

_B64URL: Final = re.compile(r"[A-Za-z0-9_-]*")


class MalformedJwtError(ValueError):
    """A token is not three base64url segments with JSON-object header and payload."""


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url; :class:`MalformedJwtError` otherwise."""
    if _B64URL.fullmatch(text) is None:
        raise MalformedJwtError("not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise MalformedJwtError("not unpadded base64url") from None


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(b64url_decode(text))
    except orjson.JSONDecodeError:
        raise MalformedJwtError("segment is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedJwtError("segment is not a JSON object")
    return value


@dataclass(frozen=True, slots=True)
class CompactJws:
    """The decoded parts of a compact JWS; nothing about it is verified yet."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def split_jws(token: str) -> CompactJws:
    """Decode the three segments of ``token``; :class:`MalformedJwtError` if malformed."""
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedJwtError("a JWT has three segments")
    header = _json_object(parts[0])
    claims = _json_object(parts[1])
    signature = b64url_decode(parts[2])
    signing_input = f"{parts[0]}.{parts[1]}".encode()
    return CompactJws(header, claims, signing_input, signature)


def decode_unverified_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT without any check (``None`` if it does not decode): only for
    routing decisions such as "is this a service token?", never for trust."""
    try:
        return split_jws(token).claims
    except MalformedJwtError:
        return None
