"""Turning every failure into an XRPC JSON error response.

https://atproto.com/specs/xrpc#usage-and-implementation-guidelines: servers should answer JSON
errors on all paths; unknown routes are 404 ``NotFound``, unexpected exceptions a 500 that
reveals nothing (the exception is logged).
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from sonet.xrpc.errors import MappedError, XRPCError, status_name
from sonet.xrpc.responses import error_response

__all__ = ["error_middleware", "to_xrpc_error"]

log = logging.getLogger(__name__)


def to_xrpc_error(request: web.Request, exc: Exception) -> XRPCError:
    """The :class:`XRPCError` describing ``exc`` (unexpected ones are logged as 500s)."""
    if isinstance(exc, MappedError):
        exc = XRPCError(exc.status, exc.error, str(exc) or None)
    if isinstance(exc, XRPCError):
        if exc.status >= 500:
            log.error("%s %s failed: %r", request.method, request.path, exc)
        return exc
    if isinstance(exc, web.HTTPException) and exc.status >= 400:
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return XRPCError(exc.status, status_name(exc.status), exc.reason, headers)
    log.error("%s %s raised", request.method, request.path, exc_info=exc)
    return XRPCError(500)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer exceptions with JSON errors; redirects and other non-error exceptions pass."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(to_xrpc_error(request, exc))
    except Exception as exc:
        if request.writer.output_size > 0:
            raise  # the response is under way: let aiohttp drop the connection
        return error_response(to_xrpc_error(request, exc))
