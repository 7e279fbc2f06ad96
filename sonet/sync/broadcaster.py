"""Serving ``com.atproto.sync.subscribeRepos`` to many consumers from one stream of events
(the relay's firehose; usable by any role that persists numbered frames).

https://atproto.com/specs/event-stream and https://atproto.com/specs/sync#firehose: a consumer may
pass ``cursor`` to replay from the persisted log (a cursor ahead of the stream is a
``FutureCursor`` error; one older than the retention window gets an ``#info OutdatedCursor`` and
starts at the oldest event), then follows the live stream. Recent events are kept once, already
framed as WebSocket messages, in a shared window. Consumers that are caught up are written to
directly when a batch is published (one joined buffer, one socket write each, no task switch);
the others catch up in their own task, writing whole runs of frames per call. So fan-out costs
one write per batch per consumer rather than one per event. A live consumer
that falls more than ``max_lag`` events behind is sent ``ConsumerTooSlow`` and dropped; the
bytes buffered for a consumer are bounded by a high-water mark, so slow consumers cost no
unbounded memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import struct
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from aiohttp import WSCloseCode, web

from sonet.storage.sequencer_store import SequencedEvent
from sonet.sync.events import info_body
from sonet.xrpc.frames import ErrorFrame, MessageFrame

__all__ = ["Broadcaster", "ConsumerInfo", "EventSource", "ws_binary_frame"]

log = logging.getLogger(__name__)

HIGH_WATER: Final = 1 << 20
"""Bytes buffered for one consumer before its task waits for the socket to drain."""
MAX_CHUNK: Final = 512 * 1024
BLOCK: Final = 64
"""Frames of the window are joined for sending in aligned blocks of this many events, so that
consumers catching up from different positions share the joined buffers."""
BLOCK_CACHE_BYTES: Final = 32 * 1024 * 1024
REPLAY_PAGE: Final = 500
DRAIN_POLL: Final = 0.005
HEARTBEAT_SECONDS: Final = 30.0
CLOSE_TIMEOUT: Final = 5.0

_LEN1: Final = struct.Struct("!BB")
_LEN2: Final = struct.Struct("!BBH")
_LEN3: Final = struct.Struct("!BBQ")
_BINARY_FIN: Final = 0x82


def ws_binary_frame(payload: bytes) -> bytes:
    """An unmasked, final, binary WebSocket frame (RFC 6455 section 5.2) carrying ``payload``."""
    size = len(payload)
    if size < 126:
        return _LEN1.pack(_BINARY_FIN, size) + payload
    if size < 65536:
        return _LEN2.pack(_BINARY_FIN, 126, size) + payload
    return _LEN3.pack(_BINARY_FIN, 127, size) + payload


class EventSource(Protocol):
    """The persisted log consumers replay from."""

    async def read_after(self, cursor: int, limit: int) -> list[SequencedEvent]: ...

    async def oldest_seq(self) -> int: ...


class _TooSlow(Exception):
    pass


@dataclass(eq=False)
class _Waiting:
    """A caught-up consumer parked until :meth:`Broadcaster.publish` cannot serve it directly."""

    transport: asyncio.WriteTransport
    pos: int
    info: ConsumerInfo
    wake: asyncio.Future[None]


@dataclass
class ConsumerInfo:
    """One connected consumer (for the admin API)."""

    id: int
    remote_addr: str
    user_agent: str
    cursor: int | None
    connected_at: float = field(default_factory=time.time)
    events_sent: int = 0


class Broadcaster:
    """The live window of framed events and the consumers reading it."""

    def __init__(
        self,
        source: EventSource,
        *,
        max_lag: int = 16_384,
        high_water: int = HIGH_WATER,
    ) -> None:
        self.source = source
        self.max_lag = max_lag
        self.high_water = high_water
        self._capacity = max(1, max_lag)
        self._ring: list[bytes] = [b""] * self._capacity
        self._first = 1
        self._latest = 0
        self._waiting: list[_Waiting] = []
        self._chunk: tuple[int, int, bytes] = (0, 0, b"")
        self._tails: dict[int, tuple[bytes, int]] = {}
        """Chunks of the live tail by first seq while a publish is served (a batch longer than
        :data:`MAX_CHUNK` takes several, each shared by every caught-up consumer)."""
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._blocks_bytes = 0
        self._ids = itertools.count(1)
        self.consumers: dict[int, ConsumerInfo] = {}
        self.dropped_slow = 0

    @property
    def latest(self) -> int:
        """The newest sequence number published."""
        return self._latest

    def start_at(self, latest: int) -> None:
        """Begin an empty window after ``latest`` (the log's newest event at start-up)."""
        self._latest = latest
        self._first = latest + 1
        self._forget_blocks()

    def publish(self, events: Sequence[SequencedEvent]) -> None:
        """Add committed events (in order) and send them to the caught-up consumers."""
        start = self._latest + 1
        ring, capacity = self._ring, self._capacity
        for event in events:
            if event.seq <= self._latest:
                continue
            if event.seq != self._latest + 1:
                # a gap (a feed that missed events): consumers behind it replay from the log
                self._first = event.seq
                self._forget_blocks()
            ring[event.seq % capacity] = ws_binary_frame(event.frame)
            self._latest = event.seq
        self._first = max(self._first, self._latest - capacity + 1)
        if self._waiting and self._latest >= start:
            self._serve_waiting()

    def _forget_blocks(self) -> None:
        self._blocks.clear()
        self._blocks_bytes = 0
        self._chunk = (0, 0, b"")

    def _serve_waiting(self) -> None:
        """Write what was just published to every parked consumer that can take it now."""
        waiting, self._waiting = self._waiting, []
        for consumer in waiting:
            transport = consumer.transport
            if consumer.pos < self._first or transport.is_closing():
                consumer.wake.set_result(None)
                continue
            while (
                consumer.pos <= self._latest
                and transport.get_write_buffer_size() <= self.high_water
            ):
                data, end = self._tail_from(consumer.pos)
                transport.write(data)
                consumer.info.events_sent += end - consumer.pos + 1
                consumer.pos = end + 1
            if consumer.pos <= self._latest:
                consumer.wake.set_result(None)  # its socket is full: its task drains it
            else:
                self._waiting.append(consumer)
        self._tails.clear()

    def _tail_from(self, pos: int) -> tuple[bytes, int]:
        """Frames from ``pos`` to the newest, joined (at most about :data:`MAX_CHUNK` bytes), and
        the last seq they reach: what caught-up consumers are sent when a batch is published,
        whatever blocks it spans; joined once per publish for every consumer at ``pos``."""
        cached = self._tails.get(pos)
        if cached is not None:
            return cached
        found = self._tails[pos] = self._join(pos, self._latest)
        return found

    def _chunk_from(self, pos: int) -> tuple[bytes, int]:
        """Frames from ``pos`` on, joined, and the last seq they reach: the rest of ``pos``'s
        block (whole blocks are kept and shared by every consumer that needs them), or the live
        tail (shared by the consumers that are caught up); at most about :data:`MAX_CHUNK`
        bytes."""
        block = pos // BLOCK
        block_end = block * BLOCK + BLOCK - 1
        whole = pos == block * BLOCK and self._latest >= block_end
        if whole:
            cached = self._blocks.get(block)
            if cached is not None:
                self._blocks.move_to_end(block)
                return cached, block_end
        end = min(self._latest, block_end)
        start, cached_end, cached_data = self._chunk
        if start == pos and cached_end == end and cached_data:
            return cached_data, end
        data, end = self._join(pos, end)
        if whole and end == block_end:
            self._blocks[block] = data
            self._blocks_bytes += len(data)
            while self._blocks_bytes > BLOCK_CACHE_BYTES and self._blocks:
                _, evicted = self._blocks.popitem(last=False)
                self._blocks_bytes -= len(evicted)
        else:
            self._chunk = (pos, end, data)
        return data, end

    def _join(self, start: int, end: int) -> tuple[bytes, int]:
        """Frames ``start`` to ``end`` joined, stopping early past :data:`MAX_CHUNK` bytes."""
        ring, capacity = self._ring, self._capacity
        parts: list[bytes] = []
        size = 0
        seq = start
        while seq <= end:
            frame = ring[seq % capacity]
            parts.append(frame)
            size += len(frame)
            if size >= MAX_CHUNK:
                break
            seq += 1
        return b"".join(parts), min(seq, end)

    # -- serving -------------------------------------------------------------------------------

    async def serve(self, request: web.Request, cursor: int | None) -> web.WebSocketResponse:
        """Upgrade ``request`` and stream events after ``cursor`` (live only when None)."""
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, compress=False)
        await ws.prepare(request)
        info = ConsumerInfo(
            next(self._ids),
            request.remote or "",
            request.headers.get("User-Agent", ""),
            cursor,
        )
        self.consumers[info.id] = info
        producer = asyncio.create_task(self._produce(ws, request, info))
        try:
            async for _message in ws:
                pass  # consumers send nothing meaningful; reading notices their close
        finally:
            self.consumers.pop(info.id, None)
            if not producer.done():
                producer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await producer
        return ws

    async def _produce(
        self, ws: web.WebSocketResponse, request: web.Request, info: ConsumerInfo
    ) -> None:
        transport = request.transport
        if transport is None:
            return
        try:
            pos = await self._start_position(ws, transport, info.cursor)
            if pos is None:
                return
            await self._stream(transport, pos, info)
        except _TooSlow:
            self.dropped_slow += 1
            log.info("dropping slow consumer %s (%s)", info.id, info.remote_addr)
            too_slow = ErrorFrame("ConsumerTooSlow", "consumer fell too far behind")
            await self._finish(ws, transport, too_slow)
        except (ConnectionError, RuntimeError):
            return

    async def _start_position(
        self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport, cursor: int | None
    ) -> int | None:
        latest = self._latest
        if cursor is None:
            return latest + 1
        if cursor > latest:
            await self._finish(ws, transport, ErrorFrame("FutureCursor", "Cursor in the future."))
            return None
        oldest = await self.source.oldest_seq()
        if oldest == 0:
            oldest = self._first
        if cursor + 1 < oldest:
            info = info_body(
                "OutdatedCursor", "Requested cursor exceeded limit. Possibly missing events"
            )
            await ws.send_bytes(MessageFrame(info, "#info").to_bytes())
            return oldest
        return cursor + 1

    async def _stream(self, transport: asyncio.BaseTransport, pos: int, info: ConsumerInfo) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        live = False
        while True:
            if transport.is_closing():
                return
            if live and self._latest - pos + 1 > self.max_lag:
                raise _TooSlow
            if pos < self._first:
                pos = await self._replay(transport, pos, info)
                continue
            live = True
            if pos > self._latest:
                pos = await self._park(transport, pos, info)
                await self._drain(transport, pos, live=True)
                continue
            data, end = self._chunk_from(pos)
            transport.write(data)
            info.events_sent += end - pos + 1
            pos = end + 1
            await self._drain(transport, pos, live=True)

    async def _park(self, transport: asyncio.WriteTransport, pos: int, info: ConsumerInfo) -> int:
        """Wait, caught up, while :meth:`publish` writes to this consumer; returns its position
        when it needs its task again (it fell behind, or its socket filled up)."""
        waiting = _Waiting(transport, pos, info, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        try:
            await waiting.wake
        finally:
            if waiting in self._waiting:
                self._waiting.remove(waiting)
        return waiting.pos

    async def _replay(self, transport: asyncio.WriteTransport, pos: int, info: ConsumerInfo) -> int:
        """Send a page of logged events from ``pos`` (a consumer catching up)."""
        page = await self.source.read_after(pos - 1, REPLAY_PAGE)
        page = [event for event in page if event.seq >= pos and event.seq < self._first]
        if not page:
            return max(pos, self._first)
        parts: list[bytes] = []
        size = 0
        for event in page:
            frame = ws_binary_frame(event.frame)
            parts.append(frame)
            size += len(frame)
            if size >= MAX_CHUNK or event is page[-1]:
                transport.write(b"".join(parts))
                info.events_sent += len(parts)
                parts, size = [], 0
                await self._drain(transport, event.seq + 1, live=False)
        return page[-1].seq + 1

    async def _drain(self, transport: asyncio.WriteTransport, pos: int, *, live: bool) -> None:
        while transport.get_write_buffer_size() > self.high_water:
            if transport.is_closing():
                raise ConnectionResetError("consumer went away")
            if live and self._latest - pos + 1 > self.max_lag:
                raise _TooSlow
            await asyncio.sleep(DRAIN_POLL)

    async def _finish(
        self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport, error: ErrorFrame
    ) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_bytes(error.to_bytes())
        try:
            await asyncio.wait_for(
                ws.close(code=WSCloseCode.POLICY_VIOLATION, message=error.error.encode()),
                CLOSE_TIMEOUT,
            )
        except (TimeoutError, ConnectionError, RuntimeError):
            if isinstance(transport, asyncio.WriteTransport):
                transport.abort()
