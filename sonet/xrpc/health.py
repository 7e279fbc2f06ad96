"""``GET /xrpc/_health``: liveness probe answered by every role."""

from __future__ import annotations

from aiohttp import web

from sonet import __version__


async def health(_request: web.Request) -> web.Response:
    """Report that the process is up, with its version, as the reference PDS does."""
    return web.json_response({"version": __version__})


def add_health_route(app: web.Application) -> None:
    """Register the health endpoint on ``app``."""
    app.router.add_get("/xrpc/_health", health)
