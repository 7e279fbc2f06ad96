"""Account timestamps: microseconds since the epoch in storage, atproto datetimes on the wire."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sonet.syntax.datetime import format_datetime, parse_datetime

__all__ = ["SECOND_US", "from_datetime", "now_us", "to_datetime"]

SECOND_US = 1_000_000


def now_us() -> int:
    """The current time in microseconds since the epoch."""
    return time.time_ns() // 1000


def to_datetime(us: int) -> str:
    """The atproto datetime string (https://atproto.com/specs/lexicon#datetime) of ``us``."""
    return format_datetime(datetime.fromtimestamp(us / SECOND_US, tz=UTC))


def from_datetime(text: str) -> int:
    """Microseconds since the epoch of an atproto datetime string."""
    moment = parse_datetime(text)
    return int(moment.timestamp()) * SECOND_US + moment.microsecond
