"""Encoding XRPC response bodies: data-model JSON and error objects.

https://atproto.com/specs/data-model#json-representation: links are written ``{"$link": cid}``
and bytes ``{"$bytes": base64}`` (no padding); https://atproto.com/specs/xrpc#error-responses:
errors are ``{"error", "message"}`` with ``Content-Type: application/json``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final

import orjson
from aiohttp import web

from sonet.repo.cid import CID
from sonet.xrpc.errors import XRPCError

__all__ = ["JSON_TYPE", "dump_json", "error_response", "json_response"]

JSON_TYPE: Final = "application/json"


def _data_model_default(value: Any) -> Any:
    if isinstance(value, CID):
        return {"$link": value.encode()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode().rstrip("=")}
    raise TypeError(f"{type(value).__name__} is not part of the atproto data model")


def dump_json(value: Any) -> bytes:
    """Serialise a data-model value (CIDs and ``bytes`` allowed) as JSON.

    Raises :class:`TypeError` for anything outside the data model.
    """
    try:
        return orjson.dumps(value, default=_data_model_default)
    except orjson.JSONEncodeError as exc:
        raise TypeError(str(exc)) from exc


def json_response(
    value: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response holding ``value`` in its data-model JSON form."""
    return web.Response(
        body=dump_json(value), status=status, content_type=JSON_TYPE, headers=headers
    )


def error_response(error: XRPCError, headers: Mapping[str, str] | None = None) -> web.Response:
    """The JSON error response of ``error``, with its own headers and then ``headers``."""
    merged = dict(error.headers)
    if headers:
        merged.update(headers)
    return json_response(error.payload(), error.status, merged)
