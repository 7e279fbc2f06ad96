"""requestCrawl notifications to a relay on a loopback port: at startup, then only after new
events and at most once per interval; an unreachable crawler is only logged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from sonet.pds.crawlers import Crawlers
from tests.pds.conftest import PdsFactory, create_test_account
from tests.pds.test_sync_support import AREAS, ok, post


@asynccontextmanager
async def relay() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A relay stand-in that records the requestCrawl calls it receives."""
    calls: list[dict[str, Any]] = []

    async def request_crawl(request: web.Request) -> web.Response:
        calls.append(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/xrpc/com.atproto.sync.requestCrawl", request_crawl)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", calls
    finally:
        await runner.cleanup()


async def until(condition: Any, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_crawl_requests(pds_factory: PdsFactory) -> None:
    async with relay() as (url, calls):
        pds = await pds_factory(
            areas=AREAS, hostname="pds.example.com", crawlers=(url, "http://127.0.0.1:9")
        )
        await until(lambda: len(calls) == 1)  # at startup; the unreachable one is skipped
        assert calls == [{"hostname": "pds.example.com"}]

        did, _ = await create_test_account(pds.ctx, "alice.test")
        crawlers = Crawlers(pds.ctx.http, pds.ctx.sequencer, "pds.example.com", [url], 0.3)
        crawlers.start()
        try:
            await until(lambda: len(calls) == 2)
            await asyncio.sleep(0.8)  # nothing new happened: no further request
            assert len(calls) == 2
            body = {"repo": did, "collection": "app.bsky.feed.post", "record": post("hi")}
            await ok(pds, "com.atproto.repo.createRecord", body=body, as_did=did)
            await until(lambda: len(calls) == 3)
            await asyncio.sleep(0.8)
            assert len(calls) == 3
            assert crawlers.requests_sent == 2
        finally:
            await crawlers.close()
