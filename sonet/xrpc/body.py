"""Reading XRPC request bodies within size limits.

https://atproto.com/specs/xrpc#lexicon-http-endpoints: a procedure's body has the encoding its
lexicon names (``application/json``, ``*/*`` for blobs, ...) announced in ``Content-Type``;
https://atproto.com/specs/xrpc#summary-of-http-status-codes: an over-long body is answered with
413. The ``Content-Length`` is checked before reading and the bytes are counted while reading,
so a lying or chunked (or compressed) body is cut off at the limit as well.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

import orjson
from aiohttp import web

from sonet.lexicons.blobs import mime_accepted
from sonet.repo.atjson import DataModelError, json_to_data
from sonet.xrpc.errors import InvalidRequestError, PayloadTooLargeError

__all__ = [
    "CHUNK_SIZE",
    "RawBody",
    "allowed_encodings",
    "check_no_body",
    "normalize_mime",
    "read_json_body",
    "request_encoding",
]

CHUNK_SIZE: Final = 64 * 1024
TOO_LARGE: Final = "request entity too large"


def normalize_mime(value: str | None) -> str | None:
    """``type/subtype`` of a ``Content-Type`` value, lower-cased, or ``None`` if malformed."""
    if not value:
        return None
    mime = value.split(";", 1)[0].strip().lower()
    kind, slash, subtype = mime.partition("/")
    if not slash or not kind or not subtype or " " in mime:
        return None
    return mime


def allowed_encodings(encoding: str) -> tuple[str, ...]:
    """The MIME patterns of a lexicon ``encoding`` (a comma-separated list)."""
    return tuple(part.strip() for part in encoding.split(",") if part.strip())


def request_encoding(request: web.Request, allowed: Sequence[str]) -> str:
    """The request's body encoding, checked against the lexicon's ``allowed`` patterns."""
    encoding = normalize_mime(request.headers.get("Content-Type"))
    if encoding is None:
        raise InvalidRequestError("Request encoding (Content-Type) required but not provided")
    if not mime_accepted(encoding, allowed):
        raise InvalidRequestError(f"Wrong request encoding (Content-Type): {encoding}")
    return encoding


def _declared_length(request: web.Request, limit: int) -> None:
    text = request.headers.get("Content-Length")
    if text is None:
        return
    if not text.isdigit():
        raise InvalidRequestError("invalid content-length")
    if int(text) > limit:
        raise PayloadTooLargeError(TOO_LARGE)


class RawBody:
    """A request body read as a stream of bytes, refusing more than ``limit`` bytes."""

    __slots__ = ("_limit", "_read", "_request")

    def __init__(self, request: web.Request, limit: int) -> None:
        _declared_length(request, limit)
        self._request = request
        self._limit = limit
        self._read = 0

    @property
    def bytes_read(self) -> int:
        """How many bytes have been read so far."""
        return self._read

    def _count(self, chunk: bytes) -> bytes:
        self._read += len(chunk)
        if self._read > self._limit:
            raise PayloadTooLargeError(TOO_LARGE)
        return chunk

    async def read(self, n: int = CHUNK_SIZE) -> bytes:
        """Up to ``n`` more bytes (``b""`` at the end); :class:`PayloadTooLargeError` past the
        limit."""
        return self._count(await self._request.content.read(n))

    async def read_all(self) -> bytes:
        """The rest of the body."""
        chunks = []
        while chunk := await self.read():
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while chunk := await self.read():
            yield chunk


async def read_json_body(request: web.Request, limit: int) -> Any:
    """Read and decode a JSON body into its data-model form (``$link``/``$bytes`` decoded)."""
    raw = await RawBody(request, limit).read_all()
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequestError("Request body is not valid JSON") from None
    try:
        return json_to_data(value)
    except DataModelError as exc:
        raise InvalidRequestError(f"Invalid request body: {exc}") from None


async def check_no_body(request: web.Request) -> None:
    """Refuse a body sent to a method that takes none (an empty one is accepted)."""
    if not request.body_exists:
        return
    if request.headers.get("Content-Length") == "0":
        return
    if await request.content.read(1):
        raise InvalidRequestError("A request body was provided when none was expected")
