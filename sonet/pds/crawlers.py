"""Asking relays to crawl this PDS: ``com.atproto.sync.requestCrawl`` to each configured crawler.

https://atproto.com/specs/sync#firehose: a relay starts subscribing to a host's firehose when the
host asks it to. Like the reference PDS, the request goes out at startup and then, after new
events, at most once per ``interval`` (20 minutes); failures are logged and retried next time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Sequence
from typing import Any, Final, cast

from sonet.net.http import HttpClient
from sonet.pds.sequencer import Sequencer
from sonet.xrpc.client import XrpcClient
from sonet.xrpc.errors import XRPCError

__all__ = ["NOTIFY_INTERVAL", "Crawlers"]

log = logging.getLogger(__name__)

NOTIFY_INTERVAL: Final = 20 * 60.0
"""Least time between two crawl requests to the same crawlers, in seconds."""
REQUEST_TIMEOUT: Final = 10.0


class Crawlers:
    """Notifies ``crawlers`` (service URLs) that ``hostname`` has new events."""

    def __init__(
        self,
        http: HttpClient,
        sequencer: Sequencer,
        hostname: str,
        crawlers: Sequence[str],
        interval: float = NOTIFY_INTERVAL,
    ) -> None:
        self.http = http
        self.sequencer = sequencer
        self.hostname = hostname
        self.crawlers = tuple(crawlers)
        self.interval = interval
        self.requests_sent = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Request a crawl now and keep requesting after new events (if crawlers are set)."""
        if self.crawlers and self._task is None:
            self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Stop notifying."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            seen = self.sequencer.latest
            await self.request_crawl()
            await asyncio.sleep(self.interval)
            events = cast(AsyncGenerator[Any, None], self.sequencer.events_after(seen))
            async with contextlib.aclosing(events):
                await anext(events)  # wait until something happened since the last request

    async def request_crawl(self) -> None:
        """POST requestCrawl to every crawler at once; failures are only logged."""
        await asyncio.gather(*(self._request(url) for url in self.crawlers))

    async def _request(self, url: str) -> None:
        client = XrpcClient(self.http.session(), url, timeout=REQUEST_TIMEOUT)
        try:
            await client.procedure("com.atproto.sync.requestCrawl", {"hostname": self.hostname})
            self.requests_sent += 1
        except XRPCError as exc:
            log.warning("requestCrawl to %s failed: %s", url, exc)
