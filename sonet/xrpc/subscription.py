"""Serving an XRPC subscription over a WebSocket.

https://atproto.com/specs/event-stream: the client connects with ``GET /xrpc/<nsid>`` and a
WebSocket upgrade; parameters come from the query string; the server sends binary frames
(:mod:`sonet.xrpc.frames`). A failure is sent as an error frame, after which the server closes
the connection (1008, policy); a finished stream is closed normally (1000). When the client
goes away the handler's iterator is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Final, TypeAlias

from aiohttp import WSCloseCode, web

from sonet.lexicons import Lexicons, LexiconValidationError, validate_message
from sonet.xrpc.context import HandlerContext
from sonet.xrpc.errors import XRPCError
from sonet.xrpc.frames import ErrorFrame, MessageFrame, decode_frame, message_from_value

__all__ = ["HEARTBEAT_SECONDS", "StreamItem", "SubscriptionHandler", "serve_subscription"]

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS: Final = 30.0

StreamItem: TypeAlias = MessageFrame | ErrorFrame | dict[str, Any] | bytes
"""A frame, a data-model object whose ``$type`` becomes the frame's type, or the bytes of a
message frame encoded beforehand (a persisted firehose event), sent as they are."""

SubscriptionHandler: TypeAlias = Callable[[HandlerContext[Any]], AsyncGenerator[StreamItem, None]]
"""An async generator of the subscription's messages."""


def _frame(
    item: MessageFrame | ErrorFrame | dict[str, Any], nsid: str, lexicons: Lexicons | None
) -> MessageFrame | ErrorFrame:
    frame = message_from_value(item, nsid) if isinstance(item, dict) else item
    if lexicons is not None and isinstance(frame, MessageFrame):
        try:
            validate_message(lexicons, nsid, frame.body, frame.type)
        except LexiconValidationError as exc:
            raise XRPCError(500, message=f"invalid {nsid} message: {exc}") from None
    return frame


async def _produce(
    ws: web.WebSocketResponse,
    ctx: HandlerContext[Any],
    prepare: Callable[[HandlerContext[Any]], Awaitable[None]],
    handler: SubscriptionHandler,
    lexicons: Lexicons | None,
) -> None:
    """Send the handler's frames; end with an error frame on failure."""
    closing: tuple[int, str] = (WSCloseCode.OK, "")
    try:
        await prepare(ctx)
        stream = handler(ctx)
        try:
            async for item in stream:
                if isinstance(item, bytes):
                    if lexicons is not None:
                        _frame(decode_frame(item), ctx.nsid, lexicons)
                    await ws.send_bytes(item)
                    continue
                frame = _frame(item, ctx.nsid, lexicons)
                await ws.send_bytes(frame.to_bytes())
                if isinstance(frame, ErrorFrame):
                    closing = (WSCloseCode.POLICY_VIOLATION, frame.error)
                    break
        finally:
            await stream.aclose()
    except XRPCError as exc:
        await ws.send_bytes(ErrorFrame(exc.error, exc.payload()["message"]).to_bytes())
        closing = (WSCloseCode.POLICY_VIOLATION, exc.error)
    except (ConnectionError, asyncio.CancelledError):
        raise
    except Exception:
        log.exception("subscription %s failed", ctx.nsid)
        await ws.send_bytes(ErrorFrame("InternalServerError", "Internal Server Error").to_bytes())
        closing = (WSCloseCode.INTERNAL_ERROR, "InternalServerError")
    await ws.close(code=closing[0], message=closing[1].encode())


async def serve_subscription(
    ctx: HandlerContext[Any],
    prepare: Callable[[HandlerContext[Any]], Awaitable[None]],
    handler: SubscriptionHandler,
    lexicons: Lexicons | None,
) -> web.WebSocketResponse:
    """Upgrade ``ctx.request``, run ``prepare`` (parameters, auth) and stream ``handler``'s
    frames until it ends, fails or the client disconnects. ``lexicons`` enables message
    validation."""
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS)
    await ws.prepare(ctx.request)
    producer = asyncio.create_task(_produce(ws, ctx, prepare, handler, lexicons))
    try:
        async for _message in ws:
            pass  # clients send nothing meaningful; reading notices their close
    finally:
        if not producer.done():
            producer.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await producer
    return ws
