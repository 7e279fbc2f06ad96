"""TIDs: encoding, parsing and the monotonic TidClock (https://atproto.com/specs/tid)."""

from __future__ import annotations

import os
import random
import threading

import pytest

from sonet.syntax import tid as tid_module
from sonet.syntax.errors import InvalidSyntaxError
from sonet.syntax.tid import (
    MAX_CLOCK_ID,
    MAX_TIMESTAMP_US,
    TidClock,
    is_valid_tid,
    next_tid,
    parse_tid,
    tid_from,
)


def test_known_encodings() -> None:
    assert tid_from(0, 0) == "2222222222222"
    assert tid_from(MAX_TIMESTAMP_US, MAX_CLOCK_ID) == "bzzzzzzzzzzzz"
    assert tid_from(0, 1) == "2222222222223"
    assert tid_from(0, 32) == "2222222222232"
    assert tid_from(1, 0) == "2222222222322"
    # The spec's example TID: 2023-06-30T15:03:01.887007Z, clock id 6.
    assert parse_tid("3jzfcijpj2z2a") == (1_688_137_381_887_007, 6)
    assert tid_from(1_688_137_381_887_007, 6) == "3jzfcijpj2z2a"


def test_round_trip_random_values() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        timestamp, clock_id = rng.randrange(MAX_TIMESTAMP_US + 1), rng.randrange(MAX_CLOCK_ID + 1)
        tid = tid_from(timestamp, clock_id)
        assert is_valid_tid(tid)
        assert parse_tid(tid) == (timestamp, clock_id)


def test_string_order_is_numeric_order() -> None:
    rng = random.Random(11)
    values = [
        (rng.randrange(MAX_TIMESTAMP_US + 1), rng.randrange(MAX_CLOCK_ID + 1)) for _ in range(500)
    ]
    assert sorted(values) == sorted(values, key=lambda v: tid_from(*v))


@pytest.mark.parametrize(
    ("timestamp", "clock_id"), [(-1, 0), (MAX_TIMESTAMP_US + 1, 0), (0, -1), (0, 1024)]
)
def test_tid_from_rejects_out_of_range(timestamp: int, clock_id: int) -> None:
    with pytest.raises(ValueError):
        tid_from(timestamp, clock_id)


@pytest.mark.parametrize(
    "bad", ["", "3jzfcijpj2z2", "3JZFCIJPJ2Z2A", "kjzfcijpj2z2a", "3jzf-cij-pj2z"]
)
def test_parse_rejects_bad_syntax(bad: str) -> None:
    with pytest.raises(InvalidSyntaxError, match="invalid TID"):
        parse_tid(bad)


def test_next_tid_is_valid_and_increasing() -> None:
    tids = [next_tid() for _ in range(5000)]
    assert all(is_valid_tid(t) for t in tids)
    assert tids == sorted(tids)
    assert len(set(tids)) == len(tids)


def test_clock_survives_a_backwards_and_stalled_wall_clock() -> None:
    readings = iter([1_000, 1_000, 999, 500, 1_001, 2_000, 1_500])
    clock = TidClock(clock_id=5, now_us=lambda: next(readings))
    tids = [clock.next() for _ in range(7)]
    assert [parse_tid(t) for t in tids] == [
        (1_000, 5),
        (1_001, 5),
        (1_002, 5),
        (1_003, 5),
        (1_004, 5),
        (2_000, 5),
        (2_001, 5),
    ]


def test_clock_id_is_random_by_default_and_validated() -> None:
    ids = {TidClock().clock_id for _ in range(50)}
    assert len(ids) > 1
    assert all(0 <= i <= MAX_CLOCK_ID for i in ids)
    with pytest.raises(ValueError):
        TidClock(clock_id=MAX_CLOCK_ID + 1)


def test_clock_is_thread_safe() -> None:
    clock = TidClock(clock_id=1, now_us=lambda: 42)  # every call lands in the same microsecond
    per_thread: list[list[str]] = [[] for _ in range(4)]

    def issue(out: list[str]) -> None:
        for _ in range(3000):
            out.append(clock.next())

    threads = [threading.Thread(target=issue, args=(out,)) for out in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [tid for out in per_thread for tid in out]
    assert len(set(everything)) == len(everything) == 12000
    assert all(out == sorted(out) for out in per_thread)
    assert max(parse_tid(t)[0] for t in everything) == 42 + 12000 - 1


def test_clock_refuses_to_overflow_53_bits() -> None:
    clock = TidClock(clock_id=0, now_us=lambda: MAX_TIMESTAMP_US)
    assert parse_tid(clock.next())[0] == MAX_TIMESTAMP_US
    with pytest.raises(OverflowError):
        clock.next()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_gets_a_fresh_clock_that_stays_monotonic() -> None:
    parent_clock = tid_module._default_clock
    before = next_tid()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        fresh = tid_module._default_clock is not parent_clock
        os.write(write_end, f"{fresh} {next_tid()}".encode())
        os._exit(0)
    os.close(write_end)
    replaced, child_tid = os.read(read_end, 64).decode().split()
    os.close(read_end)
    os.waitpid(pid, 0)
    assert replaced == "True"
    assert child_tid > before
    assert tid_module._default_clock is parent_clock
