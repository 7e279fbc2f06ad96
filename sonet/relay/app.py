"""Assembling and running the relay's aiohttp application (``sonet relay``).

The relay serves on ``SONET_RELAY_PORT`` (default 2470); see :mod:`sonet.relay.config` for the
other settings. With ``SONET_RELAY_REDIS_URL`` a ``full`` relay also publishes its committed
batches to Redis, and ``serve`` relays (``SONET_RELAY_MODE=serve``, same database) stream them to
their own consumers.
"""

from __future__ import annotations

import gc
from typing import Final

from aiohttp import web

from sonet.identity.did_resolver import DidResolver
from sonet.relay.admin_api import add_admin_routes
from sonet.relay.api import register, subscribe_repos_route
from sonet.relay.config import RelayConfig, RelayMode
from sonet.relay.outbox import Publisher
from sonet.relay.redis_fanout import RedisFeed, RedisPublisher
from sonet.relay.relay import Relay
from sonet.storage.database import Database
from sonet.xrpc import XrpcRouter

__all__ = ["RELAY_KEY", "build_relay_app", "create_relay", "run_from_env"]

RELAY_KEY: Final = web.AppKey("relay", Relay)
GC_YOUNG_OBJECTS: Final = 20_000
HOME: Final = (
    "This is an atproto relay (https://atproto.com) running Sonet.\n\n"
    "The firehose WebSocket path is at: /xrpc/com.atproto.sync.subscribeRepos\n"
)


async def create_relay(config: RelayConfig, *, resolver: DidResolver | None = None) -> Relay:
    """Open the database and start a relay as configured (``close_relay`` undoes it)."""
    db = Database.open(config.database, schema=config.database_schema)
    publishers: list[Publisher] = []
    if config.redis_url is not None and config.mode is RelayMode.FULL:
        publishers.append(RedisPublisher(config.redis_url, key=config.redis_stream))
    relay = Relay(config, db, resolver=resolver, publishers=publishers)
    try:
        await relay.start()
        if config.redis_url is not None and config.mode is RelayMode.SERVE:
            relay.feed = RedisFeed(config.redis_url, relay, key=config.redis_stream)
            relay.feed.start()
    except BaseException:
        await close_relay(relay)
        raise
    # what start-up built (lexicons, schemas, modules) lives as long as the process: keep it out
    # of the cyclic collector's full passes, which would otherwise pause streaming for ~100 ms
    gc.collect()
    gc.freeze()
    # each event allocates a few containers that live until its batch is verified and sent: with
    # the default young generation (700 objects) whole batches in flight were promoted and then
    # traversed again by the older generations' passes (~10% of the relay's CPU)
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, GC_YOUNG_OBJECTS), middle, old)
    return relay


async def close_relay(relay: Relay) -> None:
    """Stop the relay, its Redis connections and its database."""
    if relay.feed is not None:
        await relay.feed.close()
    await relay.close()
    for publisher in relay.outbox.publishers:
        if isinstance(publisher, RedisPublisher):
            await publisher.close()
    await relay.db.close()


async def _home(_request: web.Request) -> web.Response:
    return web.Response(text=HOME)


def build_relay_app(relay: Relay, *, validate_output: bool = False) -> web.Application:
    """The relay's HTTP application (XRPC, firehose, admin, health)."""
    app = web.Application()
    app[RELAY_KEY] = relay
    router = XrpcRouter(validate_output=validate_output)
    register(router, relay)
    subscribe_repos_route(app, router, relay)
    add_admin_routes(app, relay, relay.config.admin_password)
    router.install(app)
    app.router.add_get("/", _home)
    server = relay.config.user_agent

    async def server_header(_request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Server"] = server

    app.on_response_prepare.append(server_header)
    return app


def run_from_env() -> None:
    """Serve a relay configured from the environment until interrupted."""
    config = RelayConfig.from_env()
    config.data_dir.mkdir(parents=True, exist_ok=True)

    async def application() -> web.Application:
        relay = await create_relay(config)
        app = build_relay_app(relay)

        async def shutdown(_app: web.Application) -> None:
            await close_relay(relay)

        app.on_cleanup.append(shutdown)
        return app

    host = "127.0.0.1" if config.hostname in ("localhost", "127.0.0.1") else "0.0.0.0"
    web.run_app(application(), host=host, port=config.port)
