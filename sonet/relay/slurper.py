"""Persistent subscriptions to upstream hosts' ``com.atproto.sync.subscribeRepos``.

https://atproto.com/specs/sync#firehose and the reference relay's behaviour: a known host is
resumed from the last processed sequence number (``?cursor=``), a new one from its live position;
dropped connections are re-dialled with growing back-off, and a host that cannot be reached after
many attempts is marked ``offline``; a ``FutureCursor`` error marks it ``idle`` and stops. Within a
connection upstream sequence numbers must increase (others are dropped). Each host's events pass
its quota (:mod:`sonet.relay.quotas`) and go, in order and in batches, to the
:class:`~sonet.relay.ingest.Ingestor`. Connections go through the SSRF-safe client session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import aiohttp

from sonet.net import NetError
from sonet.relay.config import HostQuotas, RelayConfig
from sonet.relay.ingest import HostContext, Ingestor
from sonet.relay.quotas import HostLimiter
from sonet.relay.stats import RelayStats
from sonet.relay.status import HostStatus
from sonet.storage.relay_host_store import HostRow
from sonet.sync.hostnames import HostAddress
from sonet.sync.messages import (
    MAX_FRAME_BYTES,
    MalformedEventError,
    UpstreamEvent,
    event_seq,
    event_type,
    parse_frame,
)
from sonet.sync.verifier import DropReason
from sonet.xrpc.frames import ErrorFrame

__all__ = ["HostSubscription", "Slurper", "StatusCallback"]

log = logging.getLogger(__name__)

QUEUE_DEPTH: Final = 2_000
MAX_BATCH: Final = 256
HEARTBEAT_SECONDS: Final = 30.0

StatusCallback = Callable[[int, HostStatus], Awaitable[None]]
"""Records a host's new status (``offline``, ``idle``) in the database."""

_Item = tuple[bytes, UpstreamEvent]


class _Stop(Exception):
    """The host told us not to come back (``FutureCursor``)."""


@dataclass
class _Connection:
    last_seq: int = -1


class HostSubscription:
    """One upstream host's subscription: the connection loop and its state."""

    def __init__(
        self,
        slurper: Slurper,
        host: HostRow,
        limiter: HostLimiter,
    ) -> None:
        self.slurper = slurper
        self.address = HostAddress(host.hostname, host.no_ssl)
        self.context = HostContext(host.id, host.hostname, host.last_seq)
        self.limiter = limiter
        self.connected = False
        self.failures = 0
        self.task: asyncio.Task[None] | None = None

    @property
    def hostname(self) -> str:
        return self.address.hostname

    def start(self) -> None:
        """Run the connection loop in the background."""
        self.task = asyncio.create_task(self._run(), name=f"relay-host-{self.hostname}")

    async def stop(self) -> None:
        """Close the connection and stop re-dialling."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def _url(self) -> str:
        cursor = self.context.processed_seq
        url = self.address.subscribe_url
        return f"{url}?cursor={cursor}" if cursor > 0 else url

    def _delay(self) -> float:
        if self.failures <= 1:
            return random.random() * 0.5
        base = min(self.slurper.config.reconnect_max_delay, 0.5 * 2.0 ** (self.failures - 1))
        return base + random.random()

    async def _run(self) -> None:
        config = self.slurper.config
        try:
            while True:
                before = self.context.processed_seq
                try:
                    await self._connect_once()
                except _Stop:
                    await self.slurper.set_status(self.context.id, HostStatus.IDLE)
                    return
                except (aiohttp.ClientError, OSError, TimeoutError, NetError) as exc:
                    log.info("host %s: connection failed: %r", self.hostname, exc)
                finally:
                    self.connected = False
                if self.context.processed_seq > before:
                    self.failures = 0
                self.failures += 1
                if self.failures > config.max_dial_failures:
                    log.warning("host %s does not appear to be online; giving up", self.hostname)
                    await self.slurper.set_status(self.context.id, HostStatus.OFFLINE)
                    return
                await asyncio.sleep(self._delay())
        finally:
            self.slurper.forget(self)

    async def _connect_once(self) -> None:
        session = self.slurper.session()
        async with session.ws_connect(
            self._url(),
            heartbeat=HEARTBEAT_SECONDS,
            max_msg_size=MAX_FRAME_BYTES,
            headers={"User-Agent": self.slurper.config.user_agent},
        ) as ws:
            self.connected = True
            log.info("host %s: connected", self.hostname)
            await self._read(ws)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        queue: asyncio.Queue[_Item | None] = asyncio.Queue(maxsize=QUEUE_DEPTH)
        worker = asyncio.create_task(self._process(queue))
        connection = _Connection()
        try:
            async for message in ws:
                if worker.done():
                    break
                if message.type != aiohttp.WSMsgType.BINARY:
                    self._drop(DropReason.MALFORMED_FRAME, "not a binary message")
                    continue
                item = self._parse(message.data, connection)
                if item is None:
                    continue
                if not self.limiter.try_acquire():
                    await self.limiter.acquire()
                if queue.full():
                    await queue.put(item)
                else:
                    queue.put_nowait(item)
        except asyncio.CancelledError:
            worker.cancel()  # stopping: what is still queued will be replayed from the cursor
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            raise
        except BaseException:
            await self._finish(queue, worker)
            raise
        await self._finish(queue, worker)

    @staticmethod
    async def _finish(queue: asyncio.Queue[_Item | None], worker: asyncio.Task[None]) -> None:
        """Disconnected: handle what was received before reconnecting after it."""
        if not worker.done():
            await queue.put(None)
        await worker

    def _parse(self, data: bytes, connection: _Connection) -> _Item | None:
        try:
            event = parse_frame(data)
        except MalformedEventError as exc:
            self._drop(DropReason.MALFORMED_FRAME, str(exc))
            return None
        if isinstance(event, ErrorFrame):
            log.warning("host %s sent error %s: %s", self.hostname, event.error, event.message)
            if event.error == "FutureCursor":
                raise _Stop
            raise aiohttp.ClientError(f"error frame {event.error}")
        seq = event_seq(event)
        if seq is not None:
            if seq <= connection.last_seq:
                self._drop(DropReason.OUT_OF_ORDER_SEQ, f"seq {seq} after {connection.last_seq}")
                return None
            connection.last_seq = seq
        self.slurper.stats.received[(self.hostname, event_type(event))] += 1
        return data, event

    def _drop(self, reason: DropReason, message: str) -> None:
        self.slurper.stats.drop(self.hostname, reason.value, message)

    async def _process(self, queue: asyncio.Queue[_Item | None]) -> None:
        ingestor = self.slurper.ingestor
        done = False
        while not done:
            item = await queue.get()
            if item is None:
                return
            items = [item]
            while len(items) < MAX_BATCH and not queue.empty():
                nxt = queue.get_nowait()
                if nxt is None:
                    done = True
                    break
                items.append(nxt)
            try:
                await ingestor.handle(self.context, items)
            except Exception as exc:
                log.exception("host %s: processing a batch failed", self.hostname)
                for _ in items:
                    self._drop(DropReason.INTERNAL, repr(exc))


class Slurper:
    """The set of active upstream subscriptions."""

    def __init__(
        self,
        config: RelayConfig,
        session_factory: Callable[[], aiohttp.ClientSession],
        ingestor: Ingestor,
        stats: RelayStats,
        set_status: StatusCallback,
    ) -> None:
        self.config = config
        self._session_factory = session_factory
        self._session: aiohttp.ClientSession | None = None
        self.ingestor = ingestor
        self.stats = stats
        self.set_status = set_status
        self.subscriptions: dict[str, HostSubscription] = {}
        self._ended: dict[int, int] = {}

    def session(self) -> aiohttp.ClientSession:
        """The SSRF-safe client session (created on first use)."""
        if self._session is None or self._session.closed:
            self._session = self._session_factory()
        return self._session

    def is_subscribed(self, hostname: str) -> bool:
        return hostname in self.subscriptions

    def subscribe(self, host: HostRow) -> HostSubscription:
        """Start following ``host`` (no-op if already subscribed)."""
        existing = self.subscriptions.get(host.hostname)
        if existing is not None:
            return existing
        limiter = HostLimiter(self.config.quotas(host.account_limit, host.trusted))
        subscription = HostSubscription(self, host, limiter)
        self.subscriptions[host.hostname] = subscription
        subscription.start()
        return subscription

    def forget(self, subscription: HostSubscription) -> None:
        """Remove a finished subscription (its cursor is still reported once)."""
        if self.subscriptions.get(subscription.hostname) is subscription:
            del self.subscriptions[subscription.hostname]
        if subscription.context.processed_seq > 0:
            self._ended[subscription.context.id] = subscription.context.processed_seq

    async def unsubscribe(self, hostname: str) -> bool:
        """Stop following ``hostname``; False if it was not followed."""
        subscription = self.subscriptions.pop(hostname, None)
        if subscription is None:
            return False
        await subscription.stop()
        return True

    def set_quotas(self, hostname: str, quotas: HostQuotas) -> None:
        """Change a followed host's event quotas."""
        subscription = self.subscriptions.get(hostname)
        if subscription is not None:
            subscription.limiter.set_quotas(quotas)

    def cursors(self) -> list[tuple[int, int]]:
        """``(host_id, last processed upstream seq)`` of every followed host (and of hosts
        whose subscription ended since the last call)."""
        found = dict(self._ended)
        self._ended.clear()
        for s in self.subscriptions.values():
            if s.context.processed_seq > 0:
                found[s.context.id] = s.context.processed_seq
        return list(found.items())

    def restore_cursors(self, cursors: dict[int, int]) -> None:
        """Report ``cursors`` again at the next :meth:`cursors` call (they were not saved)."""
        for host_id, seq in cursors.items():
            self._ended.setdefault(host_id, seq)

    async def close(self) -> None:
        """Stop every subscription and close the session."""
        subscriptions = list(self.subscriptions.values())
        self.subscriptions.clear()
        await asyncio.gather(*(s.stop() for s in subscriptions))
        if self._session is not None:
            await self._session.close()
            self._session = None
