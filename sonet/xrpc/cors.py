"""CORS for browser clients of every role.

https://atproto.com/specs/xrpc#lexicon-http-endpoints encourages CORS. As the reference PDS
(the ``cors`` middleware with its defaults), any origin may call, preflights are answered with
204 and cached for a day, and the headers browsers need to read (``RateLimit-*``,
``Retry-After``, ``DPoP-Nonce``, ``WWW-Authenticate``, ...) are exposed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from sonet.xrpc.ratelimit import EXPOSED_HEADERS

__all__ = [
    "ALLOW_HEADERS",
    "ALLOW_METHODS",
    "EXPOSE_HEADERS",
    "PREFLIGHT_MAX_AGE",
    "setup_cors",
]

ALLOW_METHODS: Final = "GET,HEAD,PUT,PATCH,POST,DELETE"
ALLOW_HEADERS: Final = (
    "atproto-accept-labelers",
    "atproto-proxy",
    "authorization",
    "content-type",
    "dpop",
)
"""Request headers always allowed (headers named in a preflight are allowed as well, unless
``reflect_request_headers`` is turned off)."""
EXPOSE_HEADERS: Final = (
    *EXPOSED_HEADERS,
    "Retry-After",
    "DPoP-Nonce",
    "WWW-Authenticate",
    "atproto-content-labelers",
    "atproto-repo-rev",
)
PREFLIGHT_MAX_AGE: Final = 24 * 3600


def setup_cors(
    app: web.Application,
    *,
    allow_headers: Sequence[str] = ALLOW_HEADERS,
    reflect_request_headers: bool = True,
    expose_headers: Sequence[str] = EXPOSE_HEADERS,
    max_age: int = PREFLIGHT_MAX_AGE,
) -> None:
    """Answer CORS preflights on every path of ``app`` and add the CORS headers to every
    response (errors and streamed responses included)."""
    allowed = {name.lower() for name in allow_headers}
    allowed_text = ", ".join(allow_headers)
    exposed_text = ", ".join(expose_headers)

    def allowed_headers(request: web.Request) -> str:
        asked = request.headers.get("Access-Control-Request-Headers", "")
        extra = [
            name.strip()
            for name in asked.split(",")
            if name.strip() and name.strip().lower() not in allowed
        ]
        if not reflect_request_headers or not extra:
            return allowed_text
        return ", ".join([allowed_text, *extra])

    @web.middleware
    async def preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return await handler(request)
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Methods": ALLOW_METHODS,
                "Access-Control-Allow-Headers": allowed_headers(request),
                "Access-Control-Max-Age": str(max_age),
                "Vary": "Access-Control-Request-Headers",
            },
        )

    async def add_headers(_request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Access-Control-Allow-Origin"] = "*"
        if "Access-Control-Allow-Methods" not in response.headers:
            response.headers["Access-Control-Expose-Headers"] = exposed_text

    app.middlewares.insert(0, preflight)
    app.on_response_prepare.append(add_headers)
