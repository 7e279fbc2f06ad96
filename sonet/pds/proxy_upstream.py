"""Relaying an upstream service's answer to the client of a proxied XRPC call.

https://atproto.com/specs/xrpc#service-proxying. As the reference PDS: a successful answer is
streamed back with its status and only its content headers and the atproto response headers; an
upstream error becomes an XRPC error with the upstream's status (a 500 becomes 502
``UpstreamFailure``), error name and message; bodies are size-limited.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Final

import orjson
from aiohttp import ClientResponse, web
from multidict import CIMultiDict, CIMultiDictProxy

from sonet.net import NetError
from sonet.net.limits import read_limited
from sonet.xrpc.errors import UpstreamFailureError, XRPCError

__all__ = [
    "CONTENT_HEADERS",
    "FORWARDED_RESPONSE_HEADERS",
    "MAX_ERROR_BODY",
    "relay_response",
    "upstream_error",
]

CONTENT_HEADERS: Final = ("Content-Length", "Content-Encoding", "Content-Type", "Content-Language")
"""Headers describing the body, copied from a successful upstream answer."""
FORWARDED_RESPONSE_HEADERS: Final = ("atproto-repo-rev", "atproto-content-labelers", "Retry-After")
"""Other upstream headers the client sees, on success and on error."""
MAX_ERROR_BODY: Final = 64 * 1024
BUFFERED_BODY: Final = 256 * 1024
"""Answers with a declared length up to this are read whole and sent in one write."""
_CHUNK: Final = 64 * 1024
_DECODERS: Final = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": 0}


def _pick(headers: CIMultiDictProxy[str], names: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    for name in names:
        values = headers.getall(name, ())
        if values:
            yield name, ",".join(values)


def _decode(body: bytes, encoding: str | None) -> bytes | None:
    """The body without its ``Content-Encoding`` (gzip or deflate), bounded; None if unknown."""
    if not encoding or encoding.strip().lower() == "identity":
        return body
    wbits = _DECODERS.get(encoding.strip().lower())
    if wbits is None:
        return None
    decoder = zlib.decompressobj(wbits or zlib.MAX_WBITS)
    try:
        return decoder.decompress(body, MAX_ERROR_BODY)
    except zlib.error:
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


async def upstream_error(upstream: ClientResponse) -> XRPCError:
    """The XRPC error for an upstream 4xx/5xx answer, with its name and message if it sent a
    JSON error body."""
    status = 502 if upstream.status == 500 else upstream.status
    headers = dict(_pick(upstream.headers, FORWARDED_RESPONSE_HEADERS))
    error: str | None = None
    message: str | None = None
    if "json" in upstream.content_type:
        try:
            raw = await read_limited(upstream, MAX_ERROR_BODY)
            body = _decode(raw, upstream.headers.get("Content-Encoding"))
            payload = orjson.loads(body) if body is not None else None
        except (NetError, orjson.JSONDecodeError, OSError):
            payload = None
        if isinstance(payload, dict):
            error, message = _text(payload.get("error")), _text(payload.get("message"))
    return XRPCError(status, error, message, headers)


async def relay_response(
    request: web.Request,
    upstream: ClientResponse,
    extra_headers: CIMultiDict[str],
    max_bytes: int,
) -> web.StreamResponse:
    """Stream a successful upstream answer to the client, at most ``max_bytes`` of body.

    A declared length over the limit is a 502 before anything is sent; a body that grows past
    it while streaming drops the connection.
    """
    length = upstream.content_length
    if length is not None and length > max_bytes:
        raise UpstreamFailureError("upstream response too large")
    headers = CIMultiDict(_pick(upstream.headers, CONTENT_HEADERS))
    headers.extend(_pick(upstream.headers, FORWARDED_RESPONSE_HEADERS))
    for name, value in extra_headers.items():
        headers.setdefault(name, value)
    if length is not None and length <= BUFFERED_BODY:
        body = await upstream.content.readexactly(length) if length else b""
        headers.popall("Content-Length", None)
        return web.Response(
            status=upstream.status, reason=upstream.reason, body=body, headers=headers
        )
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
    await response.prepare(request)
    sent = 0
    async for chunk in upstream.content.iter_chunked(_CHUNK):
        sent += len(chunk)
        if sent > max_bytes:
            raise UpstreamFailureError("upstream response too large")
        await response.write(chunk)
    await response.write_eof()
    return response
