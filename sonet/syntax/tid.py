"""Timestamp identifiers (TIDs), https://atproto.com/specs/tid.

A TID is a 64-bit integer (top bit 0, then 53 bits of microseconds since the
UNIX epoch, then a 10-bit clock identifier) written as 13 characters of
base32-sortable, so that string order is time order.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections.abc import Callable

from sonet.syntax.errors import InvalidSyntaxError

ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TID_LENGTH = 13
MAX_TIMESTAMP_US = (1 << 53) - 1
MAX_CLOCK_ID = (1 << 10) - 1

_TID = re.compile(r"[2-7a-j][2-7a-z]{12}")
_TO_INT_DIGITS = str.maketrans(ALPHABET, "0123456789abcdefghijklmnopqrstuv")
_PAIRS = tuple(a + b for a in ALPHABET for b in ALPHABET)
"""The two characters that encode each 10-bit value 0..1023."""


def is_valid_tid(s: str) -> bool:
    """True if ``s`` has TID syntax: 13 base32-sortable characters, high bit clear."""
    return isinstance(s, str) and len(s) == TID_LENGTH and _TID.fullmatch(s) is not None


def ensure_valid_tid(s: str) -> None:
    """Raise :class:`InvalidSyntaxError` unless ``s`` has TID syntax."""
    if not is_valid_tid(s):
        raise InvalidSyntaxError("TID", s, _problem(s))


def _problem(s: object) -> str:
    if not isinstance(s, str):
        return "not a string"
    if len(s) != TID_LENGTH:
        return f"must be exactly {TID_LENGTH} characters"
    if any(c not in ALPHABET for c in s):
        return f"may only contain the base32-sortable characters {ALPHABET!r}"
    return "the first character must be one of 234567abcdefghij (high bit clear)"


def _encode(timestamp_us: int, clock_pair: str) -> str:
    return (
        ALPHABET[timestamp_us >> 50]
        + _PAIRS[(timestamp_us >> 40) & 1023]
        + _PAIRS[(timestamp_us >> 30) & 1023]
        + _PAIRS[(timestamp_us >> 20) & 1023]
        + _PAIRS[(timestamp_us >> 10) & 1023]
        + _PAIRS[timestamp_us & 1023]
        + clock_pair
    )


def tid_from(timestamp_us: int, clock_id: int) -> str:
    """The TID for a microsecond UNIX timestamp and a 10-bit clock identifier."""
    if not 0 <= timestamp_us <= MAX_TIMESTAMP_US:
        raise ValueError(f"TID timestamp must be in 0..2**53-1 microseconds, got {timestamp_us}")
    if not 0 <= clock_id <= MAX_CLOCK_ID:
        raise ValueError(f"TID clock id must be in 0..{MAX_CLOCK_ID}, got {clock_id}")
    return _encode(timestamp_us, _PAIRS[clock_id])


def parse_tid(s: str) -> tuple[int, int]:
    """Split a TID into ``(timestamp_us, clock_id)``."""
    ensure_valid_tid(s)
    value = int(s.translate(_TO_INT_DIGITS), 32)
    return value >> 10, value & MAX_CLOCK_ID


def _wall_clock_us() -> int:
    return time.time_ns() // 1000


class TidClock:
    """Issues strictly increasing TIDs, thread-safely, with a fixed clock identifier.

    If the wall clock stalls or goes backwards, the timestamp advances by one
    microsecond past the last one issued instead (https://atproto.com/specs/tid).
    """

    __slots__ = ("_clock_pair", "_last_us", "_lock", "_now_us", "clock_id")

    def __init__(
        self, clock_id: int | None = None, now_us: Callable[[], int] = _wall_clock_us
    ) -> None:
        if clock_id is None:
            clock_id = secrets.randbelow(MAX_CLOCK_ID + 1)
        if not 0 <= clock_id <= MAX_CLOCK_ID:
            raise ValueError(f"TID clock id must be in 0..{MAX_CLOCK_ID}, got {clock_id}")
        self.clock_id = clock_id
        self._clock_pair = _PAIRS[clock_id]
        self._now_us = now_us
        self._last_us = -1
        self._lock = threading.Lock()

    def next(self) -> str:
        """A TID greater than every TID this clock has issued before."""
        now = self._now_us()
        with self._lock:
            if now <= self._last_us:
                now = self._last_us + 1
            self._last_us = now
        if now > MAX_TIMESTAMP_US:
            raise OverflowError("TID timestamp exceeds 53 bits")
        return _encode(now, self._clock_pair)


_default_clock = TidClock()


def _fresh_clock_after_fork() -> None:
    """A forked child gets its own clock id (and lock), keeping the parent's last timestamp."""
    global _default_clock
    inherited = _default_clock
    _default_clock = TidClock()
    _default_clock._last_us = inherited._last_us


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_clock_after_fork)


def next_tid() -> str:
    """A fresh TID from the process-wide :class:`TidClock`."""
    return _default_clock.next()
