"""Builds the aiohttp application that runs every role in one process (the embedded default)."""

from __future__ import annotations

from aiohttp import web

from sonet.config import Config
from sonet.xrpc.health import add_health_route


def build_app(config: Config) -> web.Application:
    """Create the combined application for ``config``."""
    app = web.Application()
    app["config"] = config
    add_health_route(app)
    return app


def run(config: Config) -> None:
    """Serve the combined application until interrupted."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    web.run_app(
        build_app(config),
        host="127.0.0.1" if config.hostname == "localhost" else "0.0.0.0",
        port=config.port,
    )
