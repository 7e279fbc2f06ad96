"""Assembles the PDS: database, services and every XRPC area, as one aiohttp application.

An *area* is a module with ``register(router, ctx)`` (its XRPC methods) and optionally
``async setup(ctx)`` (its services) and ``async close(ctx)``; :data:`AREAS` lists them in order.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType

from aiohttp import web
from redis.asyncio import Redis

from sonet.identity.did_resolver import DidResolver
from sonet.identity.handle_resolver import HandleResolver
from sonet.lexicons import Lexicons
from sonet.net.http import HttpClient, HttpClientConfig
from sonet.pds.accounts.directory import AccountDirectory
from sonet.pds.config import PdsConfig
from sonet.pds.context import PdsContext
from sonet.pds.repo_service import RepoService
from sonet.pds.schema import migrate_pds
from sonet.pds.sequencer import Sequencer
from sonet.pds.well_known import add_well_known_routes
from sonet.storage.database import Database
from sonet.xrpc.auth import AuthVerifiers
from sonet.xrpc.ratelimit import RateLimitBackend
from sonet.xrpc.ratelimit_memory import MemoryRateLimitBackend
from sonet.xrpc.ratelimit_redis import RedisRateLimitBackend
from sonet.xrpc.router import XrpcRouter
from sonet.xrpc.tokens import SessionTokens

__all__ = ["AREAS", "CTX_KEY", "build_pds_app", "create_pds"]

AREAS: tuple[str, ...] = (
    "sonet.pds.api.server",
    "sonet.pds.api.admin",
    "sonet.pds.api.repo",
    "sonet.pds.api.sync",
    "sonet.pds.api.identity",
    "sonet.pds.api.preferences",
    "sonet.pds.api.blobs",
    "sonet.pds.proxy",
)
"""Modules of the XRPC areas the PDS serves (filled in as areas land)."""

CTX_KEY = web.AppKey("pds_ctx", PdsContext)


async def create_pds(config: PdsConfig, *, areas: Sequence[str] | None = None) -> PdsContext:
    """Open the database, apply migrations and build the shared services."""
    config = config.with_secret()
    db = Database.open(config.database, schema=config.database_schema)
    await migrate_pds(db)
    sequencer = Sequencer(db)
    await sequencer.start()
    lexicons = Lexicons.bundled()
    accounts = AccountDirectory(db)
    http = HttpClient(HttpClientConfig(allow_private=config.allow_private_network))
    did_resolver = DidResolver(http, plc_url=config.plc_url or "http://localhost:2582")
    handle_resolver = HandleResolver(http)
    tokens = SessionTokens(config.jwt_secret, config.service_did)

    async def resolve_key(did: str, force_refresh: bool) -> object:
        return await did_resolver.resolve_signing_key(did, force_refresh=force_refresh)

    auth = AuthVerifiers(
        tokens=tokens,
        admin_password=config.admin_password,
        service_dids=(config.service_did,),
        resolve_key=resolve_key,  # type: ignore[arg-type]
    )
    repos = RepoService(db, sequencer, lexicons, accounts.signing_key)
    ctx = PdsContext(
        config,
        db,
        lexicons,
        sequencer,
        accounts,
        repos,
        tokens,
        auth,
        http,
        did_resolver,
        handle_resolver,
    )
    for module in _areas(areas):
        setup = getattr(module, "setup", None)
        if setup is not None:
            await setup(ctx)
    ctx.services["areas"] = list(AREAS if areas is None else areas)
    return ctx


def _areas(names: Sequence[str] | None) -> list[ModuleType]:
    return [importlib.import_module(name) for name in (AREAS if names is None else names)]


def _rate_limit_backend(ctx: PdsContext) -> RateLimitBackend:
    """Rate-limit counters in Redis when ``SONET_REDIS_URL`` is set (shared by every PDS
    process), else in this process's memory."""
    if not ctx.config.redis_url:
        return MemoryRateLimitBackend()
    client = Redis.from_url(ctx.config.redis_url)
    ctx.services["redis"] = client
    return RedisRateLimitBackend(client, prefix="sonet:pds:")


def build_pds_app(ctx: PdsContext, *, validate_output: bool = False) -> web.Application:
    """The aiohttp application serving ``ctx``'s areas under ``/xrpc``."""
    app = web.Application(client_max_size=ctx.config.blob_upload_limit + 1024)
    app[CTX_KEY] = ctx
    router = XrpcRouter(
        ctx.lexicons,
        validate_output=validate_output,
        rate_limit_backend=_rate_limit_backend(ctx),
    )
    for module in _areas(ctx.services["areas"]):
        module.register(router, ctx)
    router.install(app)
    add_well_known_routes(app, ctx)

    async def on_cleanup(_app: web.Application) -> None:
        for module in reversed(_areas(ctx.services["areas"])):
            close = getattr(module, "close", None)
            if close is not None:
                await close(ctx)
        redis = ctx.services.get("redis")
        if redis is not None:
            await redis.aclose()
        await ctx.http.close()
        await ctx.db.close()

    app.on_cleanup.append(on_cleanup)
    return app
