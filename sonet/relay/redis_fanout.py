"""Fan-out across relay processes through a Redis stream.

The ingesting relay (``full`` mode) appends each committed batch to a Redis stream (capped to its
most recent entries); ``serve`` relays read it and feed their own
:class:`~sonet.sync.broadcaster.Broadcaster`, so consumers can be spread over several processes or
machines. Serving relays share the ingesting relay's database event log for cursor replay, and
fill any gap (a late start, a Redis hiccup) from that log, so their consumers see exactly the
same numbered stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from sonet.relay.event_codec import CodecError, pack_events, unpack_events
from sonet.storage.sequencer_store import SequencedEvent

if TYPE_CHECKING:
    from sonet.relay.relay import Relay

__all__ = ["STREAM_KEY", "RedisFeed", "RedisPublisher"]

log = logging.getLogger(__name__)

STREAM_KEY: Final = "sonet:relay:events"
"""The default stream (``RelayConfig.redis_stream``)."""
STREAM_MAXLEN: Final = 10_000
READ_BLOCK_MS: Final = 1_000
READ_COUNT: Final = 100
GAP_PAGE: Final = 1_000
RETRY_SECONDS: Final = 1.0
_FIELD: Final = b"events"


class RedisPublisher:
    """Appends committed batches to the stream."""

    def __init__(self, url: str, *, key: str = STREAM_KEY, maxlen: int = STREAM_MAXLEN) -> None:
        self.redis = Redis.from_url(url)
        self.key = key
        self.maxlen = maxlen

    async def publish(self, events: Sequence[SequencedEvent]) -> None:
        """Add one batch as one stream entry."""
        if events:
            await self.redis.xadd(
                self.key, {_FIELD: pack_events(events)}, maxlen=self.maxlen, approximate=True
            )

    async def close(self) -> None:
        """Close the connection."""
        await self.redis.aclose()


class RedisFeed:
    """Reads the stream into a serving relay's broadcaster."""

    def __init__(self, url: str, relay: Relay, *, key: str = STREAM_KEY) -> None:
        self.redis = Redis.from_url(url)
        self.relay = relay
        self.key = key
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Follow the stream in the background (from its current end)."""
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        last_id: bytes | str = "$"
        while True:
            try:
                answer: Any = await self.redis.xread(
                    {self.key: last_id}, block=READ_BLOCK_MS, count=READ_COUNT
                )
                for _stream, entries in answer or ():
                    for entry_id, fields in entries:
                        last_id = entry_id
                        await self._publish(unpack_events(bytes(fields[_FIELD])))
                if last_id == "$":
                    await self._catch_up(None)
            except (RedisError, OSError) as exc:
                log.warning("reading the relay stream failed: %r", exc)
                await asyncio.sleep(RETRY_SECONDS)
            except (CodecError, KeyError) as exc:
                log.error("bad entry in the relay stream: %r", exc)

    async def _catch_up(self, before: int | None) -> None:
        """Publish logged events after the broadcaster's latest (up to ``before``)."""
        broadcaster = self.relay.broadcaster
        while before is None or broadcaster.latest + 1 < before:
            page = await self.relay.log.read_after(broadcaster.latest, GAP_PAGE)
            page = [e for e in page if before is None or e.seq < before]
            if not page:
                return
            broadcaster.publish(page)

    async def _publish(self, events: list[SequencedEvent]) -> None:
        if not events:
            return
        broadcaster = self.relay.broadcaster
        if events[0].seq > broadcaster.latest + 1:
            await self._catch_up(events[0].seq)
        broadcaster.publish(events)

    async def close(self) -> None:
        """Stop following and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.redis.aclose()
