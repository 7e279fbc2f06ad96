"""Turning a handler's return value into the HTTP response, optionally checked against the
method's lexicon.

https://atproto.com/specs/xrpc#lexicon-http-endpoints: the output has the encoding the lexicon
names; a JSON body must match its schema. Like the reference server, a mismatch is the
server's fault (500) and output validation is meant for development and tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from sonet.lexicons import Lexicons, LexiconValidationError, validate_output
from sonet.lexicons.blobs import mime_accepted
from sonet.xrpc.body import allowed_encodings, normalize_mime
from sonet.xrpc.context import HandlerOutput, XrpcBody, XrpcStream
from sonet.xrpc.errors import InternalServerError
from sonet.xrpc.responses import JSON_TYPE, dump_json

__all__ = ["OutputChecker", "render_output"]


class OutputChecker:
    """Checks a method's outputs against its lexicon ``output`` definition."""

    __slots__ = ("_encodings", "_lexicons", "_nsid")

    def __init__(self, lexicons: Lexicons, nsid: str, output: Mapping[str, Any] | None) -> None:
        self._lexicons = lexicons
        self._nsid = nsid
        self._encodings = None if output is None else allowed_encodings(output["encoding"])

    def _check_encoding(self, encoding: str) -> None:
        if self._encodings is None:
            raise InternalServerError("A response body was provided when none was expected")
        mime = normalize_mime(encoding)
        if mime is None or not mime_accepted(mime, self._encodings):
            raise InternalServerError(f"Invalid response encoding: {encoding}")

    def check(self, output: HandlerOutput) -> None:
        """Raise :class:`InternalServerError` if ``output`` does not match the lexicon."""
        if output is None:
            if self._encodings is not None:
                raise InternalServerError("A response body is expected but none was provided")
        elif isinstance(output, web.StreamResponse):
            return  # a ready response (already streamed): nothing to check
        elif isinstance(output, XrpcBody | XrpcStream):
            self._check_encoding(output.encoding)
        elif isinstance(output, Mapping):
            self._check_encoding(JSON_TYPE)
            try:
                validate_output(self._lexicons, self._nsid, dict(output))
            except LexiconValidationError as exc:
                raise InternalServerError(str(exc)) from None


def _headers(base: CIMultiDict[str], extra: Mapping[str, str] | None) -> CIMultiDict[str]:
    merged = CIMultiDict(base)
    if extra:
        merged.update(extra)
    return merged


async def render_output(
    request: web.Request, output: HandlerOutput, headers: CIMultiDict[str]
) -> web.StreamResponse:
    """The response for ``output``, with ``headers`` (from auth and rate limits) added."""
    if isinstance(output, web.StreamResponse):
        if not output.prepared:
            for name, value in headers.items():
                output.headers.setdefault(name, value)
        return output
    if output is None:
        return web.Response(status=200, headers=headers)
    if isinstance(output, XrpcBody):
        merged = _headers(headers, output.headers)
        merged["Content-Type"] = output.encoding
        return web.Response(body=output.body, headers=merged)
    if isinstance(output, XrpcStream):
        merged = _headers(headers, output.headers)
        merged["Content-Type"] = output.encoding
        response = web.StreamResponse(headers=merged)
        await response.prepare(request)
        async for chunk in output.chunks:
            await response.write(chunk)
        await response.write_eof()
        return response
    try:
        body = dump_json(output)
    except TypeError as exc:
        raise InternalServerError(f"handler output is not JSON: {exc}") from None
    merged = _headers(headers, None)
    merged["Content-Type"] = JSON_TYPE
    return web.Response(body=body, headers=merged)
