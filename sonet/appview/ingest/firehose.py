"""A ``com.atproto.sync.subscribeRepos`` consumer (https://atproto.com/specs/event-stream).

Connects to a relay or a PDS over a websocket, resumes from the cursor saved with the last
indexed batch, and reconnects with exponential backoff (with jitter) when the connection drops
or the server sends an error frame. Reading a PDS directly, give it a
:class:`~sonet.appview.ingest.commit_reader.CommitVerifier`: every commit is then checked as a
relay checks it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Final

import aiohttp
from yarl import URL

from sonet.appview.ingest.pipeline import IngestPipeline
from sonet.storage.appview_index_state import load_cursor
from sonet.storage.appview_steps import run_steps
from sonet.sync.messages import MAX_FRAME_BYTES

__all__ = ["FirehoseConsumer"]

log = logging.getLogger(__name__)

SUBSCRIBE: Final = "/xrpc/com.atproto.sync.subscribeRepos"


class FirehoseConsumer:
    """Keeps ``pipeline`` fed from the firehose at ``service`` (``http(s)://host[:port]``)."""

    def __init__(
        self,
        pipeline: IngestPipeline,
        service: str,
        session: aiohttp.ClientSession,
        *,
        min_backoff: float = 0.5,
        max_backoff: float = 60.0,
        heartbeat: float = 30.0,
        initial_cursor: int | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.service = service.rstrip("/")
        self.session = session
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.heartbeat = heartbeat
        self.initial_cursor = initial_cursor
        self.connections = 0
        self.connected = asyncio.Event()
        self._stopping = False

    def url(self, cursor: int | None) -> URL:
        """The websocket URL (http(s): aiohttp upgrades it), resuming after ``cursor``."""
        base = URL(self.service)
        scheme = {"ws": "http", "wss": "https"}.get(base.scheme, base.scheme)
        url = base.with_scheme(scheme).with_path(SUBSCRIBE)
        return url if cursor is None else url.with_query(cursor=str(cursor))

    async def cursor(self) -> int | None:
        """Where to resume: the last seq received, else the one saved with the last indexed
        batch, else ``initial_cursor`` (None: live events only; 0: all the source retains)."""
        if self.pipeline.last_seq is not None:
            return self.pipeline.last_seq
        async with self.pipeline.indexer.db.read() as conn:
            saved = await run_steps(conn, load_cursor(self.pipeline.source))
        return self.initial_cursor if saved is None else saved

    async def run(self) -> None:
        """Consume until :meth:`stop`; never raises for network or protocol trouble."""
        self.pipeline.start()
        backoff = self.min_backoff
        while not self._stopping:
            try:
                received = await self._session_once()
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                log.warning("firehose %s: %s", self.service, exc)
                received = 0
            finally:
                self.connected.clear()
            if self._stopping:
                break
            backoff = self.min_backoff if received else min(backoff * 2, self.max_backoff)
            await asyncio.sleep(backoff * (0.5 + random.random() / 2))

    async def _session_once(self) -> int:
        cursor = await self.cursor()
        received = 0
        async with self.session.ws_connect(
            self.url(cursor), max_msg_size=MAX_FRAME_BYTES, heartbeat=self.heartbeat
        ) as ws:
            self.connections += 1
            self.connected.set()
            log.info("firehose %s: connected (cursor %s)", self.service, cursor)
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY:
                    if msg.type == aiohttp.WSMsgType.ERROR:
                        break
                    continue
                received += 1
                decoded = await self.pipeline.feed(msg.data)
                if decoded is not None and decoded.error is not None:
                    break  # the server closes the stream after an error frame
        return received

    async def stop(self) -> None:
        """Stop consuming and index what was received."""
        self._stopping = True
        await self.pipeline.stop()
