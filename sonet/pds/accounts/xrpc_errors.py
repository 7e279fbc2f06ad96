"""Handler plumbing of the accounts areas: PdsError refusals answered as XRPC errors, and the
JSON body of a call."""

from __future__ import annotations

import functools
from typing import Any

from sonet.pds.errors import PdsError
from sonet.xrpc.context import Handler, HandlerContext, HandlerOutput
from sonet.xrpc.errors import InvalidRequestError, XRPCError

__all__ = ["json_body", "xrpc_errors"]


def xrpc_errors(handler: Handler[Any]) -> Handler[Any]:
    """``handler``, with each :class:`PdsError` it raises turned into its XRPC error."""

    @functools.wraps(handler)
    async def wrapped(ctx: HandlerContext[Any]) -> HandlerOutput:
        try:
            return await handler(ctx)
        except PdsError as exc:
            raise XRPCError(exc.status, exc.error, str(exc)) from None

    return wrapped


def json_body(hc: HandlerContext[Any]) -> dict[str, Any]:
    """The call's JSON object body (400 if there is none)."""
    body = hc.input.body if hc.input is not None else None
    if not isinstance(body, dict):
        raise InvalidRequestError("A JSON object body is expected")
    return body
