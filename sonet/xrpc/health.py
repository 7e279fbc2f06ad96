"""``GET /xrpc/_health``: liveness probe answered by every role."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from sonet import __version__

HEALTH_PATH: Final = "/xrpc/_health"


async def health(_request: web.Request) -> web.Response:
    """Report that the process is up, with its version, as the reference PDS does."""
    return web.json_response({"version": __version__})


def add_health_route(app: web.Application) -> None:
    """Register the health endpoint on ``app`` (once, however often this is called)."""
    for resource in app.router.resources():
        if resource.canonical == HEALTH_PATH:
            return
    app.router.add_get(HEALTH_PATH, health)
