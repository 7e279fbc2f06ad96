"""Assembles the AppView: its index database, search index, timeline reader, image service and
the ``app.bsky.*`` read API, as one aiohttp application (``sonet appview``).

An API *namespace* is a module of :mod:`sonet.appview.api` with ``register(router, ctx)``;
:data:`NAMESPACES` lists them. ``GET /.well-known/did.json`` serves the AppView's ``did:web``
document (its ``#bsky_appview`` service at the public URL), so PDSes can resolve where to
proxy ``app.bsky.*`` calls (https://atproto.com/specs/did#did-web).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import multiprocessing
import multiprocessing.process
import os
import signal
from collections.abc import Callable
from typing import Any, Final

from aiohttp import web
from redis.asyncio import Redis

from sonet.appview.api.auth import ViewerAuth, key_resolver
from sonet.appview.api.context import AppviewContext
from sonet.appview.config import AppviewConfig
from sonet.appview.images import ImageService, ImageUrls
from sonet.appview.ingest.context import IndexConfig
from sonet.appview.ingest.service import IngestConfig, IngestService
from sonet.appview.schema import migrate_appview
from sonet.appview.search.index import SearchIndex
from sonet.appview.timeline import (
    AuthorItemsCache,
    MemoryAuthorItemsCache,
    RedisAuthorItemsCache,
    TimelineReader,
)
from sonet.identity.cache import MemoryCache
from sonet.identity.did_resolver import DidResolver
from sonet.identity.handle_resolver import HandleResolver
from sonet.identity.trusted_handles import TrustedHandleHosts
from sonet.lexicons import Lexicons
from sonet.net import HttpClient, HttpClientConfig
from sonet.storage.appview_read_sql import Reader
from sonet.storage.database import Database
from sonet.xrpc.auth import AuthVerifiers
from sonet.xrpc.responses import json_response
from sonet.xrpc.router import XrpcRouter

__all__ = [
    "CTX_KEY",
    "GC_YOUNG_THRESHOLD",
    "NAMESPACES",
    "build_appview_app",
    "close_appview",
    "create_appview",
    "ingest_service",
    "run_appview",
    "serve_appview",
    "start_read_workers",
    "tune_gc",
]

log = logging.getLogger(__name__)

NAMESPACES: Final = (
    "sonet.appview.api.actor",
    "sonet.appview.api.feed",
    "sonet.appview.api.graph",
    "sonet.appview.api.notification",
    "sonet.appview.api.unspecced",
)
CTX_KEY = web.AppKey("appview_ctx", AppviewContext)
GC_YOUNG_THRESHOLD: Final = 20_000
"""Surviving allocations between young garbage collections in a serving process."""


async def create_appview(
    config: AppviewConfig,
    *,
    db: Database | None = None,
    search: SearchIndex | None = None,
    open_search: bool = True,
) -> AppviewContext:
    """Open (and migrate) the index database and build the shared services. ``db`` and
    ``search`` replace the configured ones (the caller then shares them, e.g. with an
    indexer); ``open_search=False`` runs without a search index."""
    database = db or Database.open(config.database, schema=config.database_schema)
    await migrate_appview(database)
    if search is None and open_search:
        search = SearchIndex(config.search_dir, read_only=not config.ingest)
    http = HttpClient(HttpClientConfig(allow_private=config.allow_private_network))
    dids = DidResolver(http, plc_url=config.plc_url, cache=MemoryCache())
    auth = AuthVerifiers(service_dids=config.audiences, resolve_key=key_resolver(dids))
    cache: AuthorItemsCache = MemoryAuthorItemsCache(config.timeline_cache_ttl)
    redis: Redis | None = None
    if config.redis_url:
        redis = Redis.from_url(config.redis_url)
        cache = RedisAuthorItemsCache(redis, config.timeline_cache_ttl)
    urls = ImageUrls(config.public_url)
    reader = Reader(database)
    ctx = AppviewContext(
        config=config,
        db=database,
        reader=reader,
        lexicons=Lexicons.bundled(),
        auth=auth,
        http=http,
        did_resolver=dids,
        image_urls=urls,
        images=ImageService(http, dids, config.image_cache_dir),
        timeline=TimelineReader(reader, cache, cache_ttl=config.timeline_cache_ttl),
        viewer_auth=ViewerAuth(auth),
        search=search,
    )
    if redis is not None:
        ctx.services["redis"] = redis
    return ctx


def _did_document(ctx: AppviewContext) -> dict[str, Any]:
    did = ctx.config.service_did
    return {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "service": [
            {
                "id": "#bsky_appview",
                "type": "BskyAppView",
                "serviceEndpoint": ctx.config.public_url,
            },
            {
                "id": "#bsky_notif",
                "type": "BskyNotificationService",
                "serviceEndpoint": ctx.config.public_url,
            },
        ],
    }


def build_appview_app(ctx: AppviewContext, *, validate_output: bool = False) -> web.Application:
    """The aiohttp application serving ``ctx`` (``/xrpc``, ``/img``, the DID document)."""
    app = web.Application()
    app[CTX_KEY] = ctx
    router = XrpcRouter(ctx.lexicons, validate_output=validate_output)
    for name in NAMESPACES:
        importlib.import_module(name).register(router, ctx)
    router.install(app)
    ctx.images.install(app)

    async def did_json(_request: web.Request) -> web.Response:
        if not ctx.config.service_did.startswith("did:web:"):
            raise web.HTTPNotFound()
        return json_response(_did_document(ctx))

    async def banner(_request: web.Request) -> web.Response:
        return web.Response(text="Sonet AppView: the app.bsky API is served under /xrpc/.\n")

    app.router.add_get("/.well-known/did.json", did_json)
    app.router.add_get("/", banner)

    async def on_cleanup(_app: web.Application) -> None:
        await close_appview(ctx)

    app.on_cleanup.append(on_cleanup)
    return app


async def close_appview(ctx: AppviewContext) -> None:
    """Stop background services and release every resource."""
    for name, service in list(ctx.services.items()):
        stop = getattr(service, "stop", None) or getattr(service, "aclose", None)
        if stop is not None:
            try:
                await stop()
            except Exception:
                log.exception("stopping %s failed", name)
    ctx.services.clear()
    if ctx.search is not None:
        await ctx.search.close()
    await ctx.did_resolver.close()
    await ctx.http.close()
    await ctx.reader.close()
    await ctx.db.close()


def ingest_service(ctx: AppviewContext) -> IngestService:
    """The ingestion that fills ``ctx``'s index from the configured firehose: a relay's is
    trusted, a PDS's commits are verified (and its repos backfilled). Handles under the user
    domains of the configured trusted PDSes are resolved through them."""
    config = ctx.config
    trusted = TrustedHandleHosts(ctx.http, config.trusted_pds) if config.trusted_pds else None
    source = [config.firehose_url] if config.firehose_url else []
    relay = config.firehose_relay
    return IngestService(
        ctx.db,
        IngestConfig(
            relay_urls=source if relay else [],
            pds_urls=[] if relay else source,
            backfill_hosts=config.backfill_hosts or ([] if relay else source),
            start_cursor=config.start_cursor,
            index=IndexConfig(
                fanout_threshold=config.fanout_threshold, timeline_length=config.timeline_length
            ),
        ),
        http=ctx.http,
        dids=ctx.did_resolver,
        handles=HandleResolver(ctx.http, trusted=trusted),
        search=ctx.search,
        lexicons=ctx.lexicons,
    )


def tune_gc() -> None:
    """Garbage collection for a long-running server, called once it is set up: what exists
    now (modules, lexicons, compiled validators) is moved out of the collector's sight
    (``gc.freeze``), and young collections wait for :data:`GC_YOUNG_THRESHOLD` surviving
    allocations instead of 700, so that the objects of requests in flight are not promoted
    and then swept by full collections (in the reads benchmark, the defaults spent several
    times more time in the collector, with pauses of hundreds of milliseconds)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


def _listen_host(config: AppviewConfig) -> str:
    return "127.0.0.1" if config.hostname in ("localhost", "127.0.0.1") else "0.0.0.0"


async def _until_stopped(parent: int | None = None) -> None:
    """Wait for SIGINT or SIGTERM (or, in a worker, for the parent process to go away)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        if parent is not None and os.getppid() != parent:
            return


async def _serve_reads(config: AppviewConfig, port: int, parent: int) -> None:
    """A read worker: the read API on the shared port, the search index read-only."""
    ctx = await create_appview(config, search=SearchIndex(config.search_dir, read_only=True))
    runner = web.AppRunner(build_appview_app(ctx), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, _listen_host(config), port, reuse_port=True).start()
    tune_gc()
    try:
        await _until_stopped(parent)
    finally:
        await runner.cleanup()


def _read_worker(config: AppviewConfig, port: int, parent: int) -> None:
    asyncio.run(_serve_reads(config, port, parent))


def start_read_workers(
    config: AppviewConfig, port: int, count: int
) -> list[multiprocessing.process.BaseProcess]:
    """``count`` read worker processes serving ``port`` beside this one (``SO_REUSEPORT``:
    the kernel spreads connections over the processes)."""
    spawn = multiprocessing.get_context("spawn")
    workers: list[multiprocessing.process.BaseProcess] = [
        spawn.Process(target=_read_worker, args=(config, port, os.getpid()), name=f"appview-{n}")
        for n in range(1, count + 1)
    ]
    for worker in workers:
        worker.start()
    return workers


async def serve_appview(config: AppviewConfig, ready: Callable[[int], None] | None = None) -> None:
    """Serve the AppView until SIGINT/SIGTERM: the read API, the firehose ingest when
    configured, and ``config.workers - 1`` more read processes on the same port; ``ready``
    is told the port once the API answers (useful with port 0)."""
    ctx = await create_appview(config)
    if config.ingest and config.firehose_url:
        ingest = ingest_service(ctx)
        await ingest.start()
        ctx.services["ingest"] = ingest
        log.info("indexing the firehose of %s", config.firehose_url)
    runner = web.AppRunner(build_appview_app(ctx), access_log=None)
    await runner.setup()
    shared = config.workers > 1
    await web.TCPSite(runner, _listen_host(config), config.port, reuse_port=shared).start()
    port = int(runner.addresses[0][1])
    workers = start_read_workers(config, port, config.workers - 1) if shared else []
    tune_gc()
    print(f"Sonet AppView {config.service_did} at {config.public_url}", flush=True)
    if ready is not None:
        ready(port)
    try:
        await _until_stopped()
    finally:
        for worker in workers:
            worker.terminate()
        await runner.cleanup()
        for worker in workers:
            await asyncio.to_thread(worker.join, 10)


def run_appview() -> None:
    """Run the AppView read API alone (``sonet appview``) from ``SONET_APPVIEW_*`` settings."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(serve_appview(AppviewConfig.from_env(os.environ)))
