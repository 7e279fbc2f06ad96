"""Event-stream frames of XRPC subscriptions: a DAG-CBOR header followed by a DAG-CBOR body.

https://atproto.com/specs/event-stream#framing: a message frame's header is
``{"op": 1, "t": "#<type>"}`` (``t`` names the body's lexicon type, short form for types of the
subscription's own lexicon); an error frame is ``{"op": -1}`` with body
``{"error": <name>, "message": <text>}``, after which the server closes the connection.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Final

from cbrrr import _cbrrr

from sonet.repo import cbor
from sonet.repo.cid import CID

__all__ = [
    "ERROR_OP",
    "MESSAGE_OP",
    "ErrorFrame",
    "FrameError",
    "MessageFrame",
    "decode_frame",
    "encode_message",
    "message_from_value",
]

_decode: Final = _cbrrr.decode_dag_cbor

MESSAGE_OP: Final = 1
ERROR_OP: Final = -1


class FrameError(ValueError):
    """Bytes are not a well-formed event-stream frame."""


@functools.lru_cache(maxsize=256)
def _message_header(type_name: str | None) -> bytes:
    header: dict[str, Any] = {"op": MESSAGE_OP}
    if type_name is not None:
        header["t"] = type_name
    return cbor.encode(header)


@dataclass(frozen=True, slots=True)
class MessageFrame:
    """A message: its body (a data-model object) and its type (``#commit``)."""

    body: dict[str, Any]
    type: str | None = None

    def to_bytes(self) -> bytes:
        return encode_message(self.body, self.type)


def encode_message(body: dict[str, Any], type_name: str | None) -> bytes:
    """The bytes of ``MessageFrame(body, type_name)``, without building one (hot paths)."""
    return _message_header(type_name) + cbor.encode(body)


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    """A final error (``FutureCursor``, ``ConsumerTooSlow``, ...)."""

    error: str
    message: str | None = None

    def to_bytes(self) -> bytes:
        body: dict[str, Any] = {"error": self.error}
        if self.message is not None:
            body["message"] = self.message
        return cbor.encode({"op": ERROR_OP}) + cbor.encode(body)


def message_from_value(value: dict[str, Any], nsid: str) -> MessageFrame:
    """A message frame for an object whose ``$type`` names its type; ``$type`` moves into the
    header (shortened to ``#name`` when it belongs to ``nsid``)."""
    type_name = value.get("$type")
    if not isinstance(type_name, str):
        return MessageFrame(value)
    owner, hash_sign, name = type_name.partition("#")
    if hash_sign and owner in ("", nsid):
        type_name = f"#{name}"
    body = {key: item for key, item in value.items() if key != "$type"}
    return MessageFrame(body, type_name)


def decode_frame(data: bytes, max_size: int = cbor.MAX_BLOCK_SIZE) -> MessageFrame | ErrorFrame:
    """Parse a frame received from a subscription; :class:`FrameError` if malformed."""
    size = len(data)
    if size > max_size:
        raise FrameError(f"frame of {size} bytes exceeds the {max_size}-byte limit")
    try:  # the two values decoded directly, without a generator or a list (a firehose hot path)
        header, end = _decode(data, CID, False)
        body, body_size = _decode(data[end:], CID, False) if end < size else (0, 0)
    except (ValueError, TypeError, RecursionError, EOFError, IndexError) as exc:
        raise FrameError(f"frame is not DAG-CBOR: {exc}") from None
    if body_size == 0 or end + body_size != size:
        raise FrameError("a frame holds exactly two values, a header and a body")
    if not isinstance(header, dict) or not isinstance(body, dict):
        raise FrameError("frame header and body must be maps")
    op, type_name, error = header.get("op"), header.get("t"), body.get("error")
    if op == MESSAGE_OP and (type_name is None or isinstance(type_name, str)):
        return MessageFrame(body, type_name)
    if op == ERROR_OP and isinstance(error, str):
        message = body.get("message")
        return ErrorFrame(error, message if isinstance(message, str) else None)
    raise FrameError(f"invalid frame header {header!r}")
