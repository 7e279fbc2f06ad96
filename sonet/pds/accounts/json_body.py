"""The JSON object body of an accounts-area procedure.

https://atproto.com/specs/xrpc#lexicon-http-endpoints
"""

from __future__ import annotations

from typing import Any

from sonet.xrpc.context import HandlerContext
from sonet.xrpc.errors import InvalidRequestError

__all__ = ["json_body"]


def json_body(hc: HandlerContext[Any]) -> dict[str, Any]:
    """The call's JSON object body (400 if there is none)."""
    body = hc.input.body if hc.input is not None else None
    if not isinstance(body, dict):
        raise InvalidRequestError("A JSON object body is expected")
    return body
