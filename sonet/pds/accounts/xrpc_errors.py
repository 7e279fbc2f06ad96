"""Answering :class:`~sonet.pds.errors.PdsError` refusals as XRPC errors."""

from __future__ import annotations

import functools
from typing import Any

from sonet.pds.errors import PdsError
from sonet.xrpc.context import Handler, HandlerContext, HandlerOutput
from sonet.xrpc.errors import XRPCError

__all__ = ["xrpc_errors"]


def xrpc_errors(handler: Handler[Any]) -> Handler[Any]:
    """``handler``, with each :class:`PdsError` it raises turned into its XRPC error."""

    @functools.wraps(handler)
    async def wrapped(ctx: HandlerContext[Any]) -> HandlerOutput:
        try:
            return await handler(ctx)
        except PdsError as exc:
            raise XRPCError(exc.status, exc.error, str(exc)) from None

    return wrapped
