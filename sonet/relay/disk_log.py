"""The embedded relay's event log: append-only segment files on disk.

https://atproto.com/specs/event-stream#sequence-numbers: consumers resume from any sequence number
inside the retention window, so every sequenced frame is kept, in order, for that long. Each
segment file is named after its first sequence number and holds records of
:mod:`sonet.relay.event_codec`. Opening reads only the first record of each segment and scans the newest one
(truncating a torn tail after a crash). Retention drops whole segments whose successor starts
before the cut-off. A sparse in-memory index per segment finds a cursor without a full scan.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

from sonet.relay.event_codec import (
    HEADER_SIZE,
    decode_record,
    record_parts,
    record_time,
)
from sonet.storage.sequencer_store import SequencedEvent

__all__ = ["DiskEventLog", "DiskLogError"]

_SUFFIX: Final = ".log"
INDEX_EVERY: Final = 128
READ_CHUNK: Final = 1 << 20
CACHED_INDEXES: Final = 8
IOV_PARTS: Final = 512
"""Buffers per ``writev`` call (below every system's ``IOV_MAX``)."""


class DiskLogError(ValueError):
    """The event log directory holds something that is not a valid segment."""


@dataclass
class _Segment:
    first_seq: int
    path: Path
    first_time: int = 0
    size: int = 0
    index: list[tuple[int, int]] | None = field(default=None, repr=False)


class DiskEventLog:
    """Append-only, segmented event log in ``directory``."""

    def __init__(
        self,
        directory: Path,
        *,
        segment_events: int = 50_000,
        segment_bytes: int = 128 * 1024 * 1024,
        fsync: bool = False,
    ) -> None:
        self.directory = directory
        self.segment_events = segment_events
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self._segments: list[_Segment] = []
        self._firsts: list[int] = []
        self._file: BinaryIO | None = None
        self._active_count = 0
        self._latest = 0
        self._indexes: OrderedDict[int, list[tuple[int, int]]] = OrderedDict()

    # -- opening -------------------------------------------------------------------------------

    async def open(self) -> None:
        """Find the segments, recover the newest one and learn the latest sequence number."""
        await asyncio.to_thread(self._open)

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        segments: list[_Segment] = []
        for path in sorted(self.directory.glob(f"*{_SUFFIX}")):
            stem = path.name[: -len(_SUFFIX)]
            if not stem.isdigit():
                raise DiskLogError(f"unexpected file in the event log: {path.name}")
            segments.append(_Segment(int(stem), path, size=path.stat().st_size))
        segments.sort(key=lambda s: s.first_seq)
        for segment in segments:
            with open(segment.path, "rb") as f:
                head = f.read(HEADER_SIZE)
            if len(head) == HEADER_SIZE:
                segment.first_time = record_time(head)
        self._segments = [s for s in segments if s.size > 0 or s is segments[-1]]
        for stale in segments:
            if stale not in self._segments:
                stale.path.unlink(missing_ok=True)
        self._firsts = [s.first_seq for s in self._segments]
        if self._segments:
            self._recover(self._segments[-1])

    def _recover(self, segment: _Segment) -> None:
        """Scan the newest segment, cut a torn tail, and reopen it for appends."""
        data = segment.path.read_bytes()
        index: list[tuple[int, int]] = []
        pos = count = 0
        latest = segment.first_seq - 1
        while True:
            record = decode_record(data, pos, with_body=True)
            if record is None:
                break
            _, seq, nxt = record
            if count % INDEX_EVERY == 0:
                index.append((seq, pos))
            latest, pos, count = seq, nxt, count + 1
        if pos < len(data):
            with open(segment.path, "r+b") as f:
                f.truncate(pos)
        segment.size = pos
        segment.index = index
        self._active_count = count
        self._latest = latest
        self._file = open(segment.path, "ab", buffering=0)  # noqa: SIM115 - kept open for appends

    # -- writing -------------------------------------------------------------------------------

    @property
    def latest_seq(self) -> int:
        """The newest sequence number written (0 when empty)."""
        return self._latest

    async def append(self, events: Sequence[SequencedEvent]) -> None:
        """Append already-numbered events (in order, after :attr:`latest_seq`)."""
        if not events:
            return
        self._append(events)
        if self.fsync:
            file = self._file
            assert file is not None
            await asyncio.to_thread(os.fsync, file.fileno())

    def _append(self, events: Sequence[SequencedEvent]) -> None:
        parts: list[bytes] = []
        pending = 0
        for event in events:
            if event.seq <= self._latest:
                raise DiskLogError(f"event {event.seq} is not after {self._latest}")
            segment = self._active_for(event)
            head, frame = record_parts(event)
            if self._active_count % INDEX_EVERY == 0:
                assert segment.index is not None
                segment.index.append((event.seq, segment.size + pending))
            parts.append(head)
            parts.append(frame)
            pending += len(head) + len(frame)
            self._active_count += 1
            self._latest = event.seq
            if (
                self._active_count >= self.segment_events
                or segment.size + pending >= self.segment_bytes
            ):
                self._write(segment, parts, pending)
                parts, pending = [], 0
                self._close_active()
        if parts:
            self._write(self._segments[-1], parts, pending)

    def _write(self, segment: _Segment, parts: list[bytes], size: int) -> None:
        """Append ``parts`` (``size`` bytes) with vectored writes: frames are not copied into
        one buffer first."""
        file = self._file
        assert file is not None
        fd = file.fileno()
        for start in range(0, len(parts), IOV_PARTS):
            chunk = parts[start : start + IOV_PARTS]
            written = os.writev(fd, chunk)
            expected = sum(map(len, chunk))
            if written < expected:  # short write (not expected of a regular file): finish it
                rest = memoryview(b"".join(chunk))[written:]
                while rest:
                    rest = rest[os.write(fd, rest) :]
        segment.size += size

    def _active_for(self, event: SequencedEvent) -> _Segment:
        if self._file is None:
            path = self.directory / f"{event.seq:016d}{_SUFFIX}"
            segment = _Segment(event.seq, path, event.sequenced_at, 0, [])
            self._segments.append(segment)
            self._firsts.append(event.seq)
            self._file = open(path, "ab", buffering=0)  # noqa: SIM115 - kept open for appends
            self._active_count = 0
        return self._segments[-1]

    def _close_active(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._segments:
            # a closed segment's index is rebuilt on demand (a few are cached), so memory does
            # not grow with the number of segments retained
            self._segments[-1].index = None

    # -- reading -------------------------------------------------------------------------------

    async def oldest_seq(self) -> int:
        """The oldest sequence number retained (0 when empty)."""
        for segment in self._segments:
            if segment.size > 0:
                return segment.first_seq
        return 0

    async def read_after(self, cursor: int, limit: int) -> list[SequencedEvent]:
        """Up to ``limit`` events with ``seq > cursor``, in order."""
        if cursor >= self._latest or not self._segments:
            return []
        snapshot = [(s, s.size) for s in self._segments]
        return await asyncio.to_thread(self._read_after, snapshot, cursor, limit)

    def _read_after(
        self, snapshot: list[tuple[_Segment, int]], cursor: int, limit: int
    ) -> list[SequencedEvent]:
        firsts = [s.first_seq for s, _ in snapshot]
        i = max(0, bisect.bisect_right(firsts, cursor + 1) - 1)
        out: list[SequencedEvent] = []
        while i < len(snapshot) and len(out) < limit:
            segment, size = snapshot[i]
            self._read_segment(segment, size, cursor, limit, out)
            i += 1
        return out

    def _read_segment(
        self, segment: _Segment, size: int, cursor: int, limit: int, out: list[SequencedEvent]
    ) -> None:
        start = self._offset_for(segment, size, cursor + 1)
        with contextlib.suppress(FileNotFoundError), open(segment.path, "rb") as f:
            f.seek(start)
            pos = start
            buffer = b""
            while pos < size and len(out) < limit:
                chunk = f.read(min(READ_CHUNK, size - pos))
                if not chunk:
                    break
                pos += len(chunk)
                buffer += chunk
                view = 0
                while len(out) < limit:
                    record = decode_record(buffer, view, with_body=True)
                    if record is None:
                        break
                    event, seq, view = record
                    if seq > cursor and event is not None:
                        out.append(event)
                buffer = buffer[view:]

    def _offset_for(self, segment: _Segment, size: int, seq: int) -> int:
        index = segment.index if segment.index is not None else self._cached_index(segment, size)
        i = bisect.bisect_right(index, (seq, size + 1)) - 1
        return index[i][1] if i >= 0 else 0

    def _cached_index(self, segment: _Segment, size: int) -> list[tuple[int, int]]:
        index = self._indexes.get(segment.first_seq)
        if index is not None:
            self._indexes.move_to_end(segment.first_seq)
            return index
        index = []
        with open(segment.path, "rb") as f:
            data = f.read(size)
        pos = count = 0
        while True:
            record = decode_record(data, pos, with_body=False)
            if record is None:
                break
            _, seq, nxt = record
            if count % INDEX_EVERY == 0:
                index.append((seq, pos))
            pos, count = nxt, count + 1
        self._indexes[segment.first_seq] = index
        while len(self._indexes) > CACHED_INDEXES:
            self._indexes.popitem(last=False)
        return index

    # -- retention -----------------------------------------------------------------------------

    async def trim(self, before_us: int) -> int:
        """Delete segments whose events are all older than ``before_us``; returns how many."""
        dropped = 0
        while len(self._segments) > 1 and self._segments[1].first_time < before_us:
            segment = self._segments.pop(0)
            self._firsts.pop(0)
            self._indexes.pop(segment.first_seq, None)
            await asyncio.to_thread(segment.path.unlink, True)
            dropped += 1
        return dropped

    async def close(self) -> None:
        """Flush and close the active segment."""
        if self._file is not None:
            if self.fsync:
                await asyncio.to_thread(os.fsync, self._file.fileno())
            self._close_active()
