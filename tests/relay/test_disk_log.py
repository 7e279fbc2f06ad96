"""The on-disk event log: appends, reads across segments, crash recovery and retention."""

from __future__ import annotations

from pathlib import Path

import pytest

from sonet.relay.disk_log import DiskEventLog, DiskLogError
from sonet.relay.event_codec import CodecError, pack_events, unpack_events
from sonet.storage.sequencer_store import SequencedEvent


def events(first: int, count: int, size: int = 100) -> list[SequencedEvent]:
    return [
        SequencedEvent(seq, f"did:plc:{seq:024d}"[:32], "#commit", bytes([seq % 256]) * size, seq)
        for seq in range(first, first + count)
    ]


async def test_append_and_read_across_segments(tmp_path: Path) -> None:
    log = DiskEventLog(tmp_path, segment_events=7)
    await log.open()
    for start in range(1, 101, 10):
        await log.append(events(start, 10))
    assert log.latest_seq == 100
    assert await log.oldest_seq() == 1
    assert len(list(tmp_path.glob("*.log"))) == 15
    page = await log.read_after(0, 1_000)
    assert [e.seq for e in page] == list(range(1, 101))
    assert page[41] == events(42, 1)[0]
    assert [e.seq for e in await log.read_after(55, 5)] == [56, 57, 58, 59, 60]
    assert await log.read_after(100, 5) == []
    await log.close()


async def test_reopen_recovers_a_torn_tail(tmp_path: Path) -> None:
    log = DiskEventLog(tmp_path, segment_events=1_000)
    await log.open()
    await log.append(events(1, 20))
    await log.close()
    segment = sorted(tmp_path.glob("*.log"))[-1]
    segment.write_bytes(segment.read_bytes()[:-30])  # the last record was cut by a crash
    reopened = DiskEventLog(tmp_path, segment_events=1_000)
    await reopened.open()
    assert reopened.latest_seq == 19
    await reopened.append(events(20, 5))
    assert [e.seq for e in await reopened.read_after(15, 100)] == list(range(16, 25))
    with pytest.raises(DiskLogError):
        await reopened.append(events(3, 1))
    await reopened.close()


async def test_cold_segment_lookups_use_a_built_index(tmp_path: Path) -> None:
    log = DiskEventLog(tmp_path, segment_events=600)
    await log.open()
    await log.append(events(1, 1_500, size=10))
    await log.close()
    reopened = DiskEventLog(tmp_path, segment_events=600)
    await reopened.open()
    assert [e.seq for e in await reopened.read_after(400, 3)] == [401, 402, 403]
    assert [e.seq for e in await reopened.read_after(1_299, 2)] == [1_300, 1_301]
    await reopened.close()


async def test_trim_drops_whole_old_segments(tmp_path: Path) -> None:
    log = DiskEventLog(tmp_path, segment_events=10)
    await log.open()
    await log.append(events(1, 35))
    assert await log.trim(22) == 2  # the segments of events 1-20 are followed by one from 21
    assert await log.oldest_seq() == 21
    assert await log.trim(10_000) == 1  # the newest segment is always kept
    assert await log.oldest_seq() == 31
    assert [e.seq for e in await log.read_after(0, 100)] == list(range(31, 36))
    await log.close()


async def test_stray_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.log").write_text("hello")
    with pytest.raises(DiskLogError):
        await DiskEventLog(tmp_path).open()


def test_codec_round_trip_and_corruption() -> None:
    batch = events(1, 5)
    packed = pack_events(batch)
    assert unpack_events(packed) == batch
    broken = bytearray(packed)
    broken[40] ^= 1
    with pytest.raises(CodecError):
        unpack_events(bytes(broken))
    with pytest.raises(CodecError):
        unpack_events(packed[:-1])
