"""Timestamps of indexed records, in the form views show them.

Record datetimes are normalised to the preferred form (UTC, milliseconds, ``Z``) so that they
sort as strings; ``sort_at`` is the earlier of ``createdAt`` and the indexing time, so a record
claiming a future date sorts when it was seen (as the reference AppView does).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from sonet.syntax.datetime import format_datetime, normalize_datetime
from sonet.syntax.errors import InvalidSyntaxError

__all__ = ["EPOCH", "created_and_sort_at", "normalize_time", "now_iso"]

EPOCH = "1970-01-01T00:00:00.000Z"
_PREFERRED = re.compile(
    r"[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{3}Z"
)


def now_iso() -> str:
    """The current time in the preferred form."""
    return format_datetime(datetime.fromtimestamp(time.time(), UTC))


def normalize_time(value: Any, fallback: str = EPOCH) -> str:
    """``value`` in the preferred form, or ``fallback`` if it is not a datetime string."""
    if not isinstance(value, str):
        return fallback
    if _PREFERRED.fullmatch(value):
        return value  # already in the preferred form (the usual case): skip parsing
    try:
        return normalize_datetime(value)
    except InvalidSyntaxError:
        return fallback


def created_and_sort_at(record: dict[str, Any], indexed_at: str) -> tuple[str, str]:
    """``(created_at, sort_at)`` of a record indexed at ``indexed_at``."""
    created_at = normalize_time(record.get("createdAt"))
    return created_at, min(created_at, indexed_at)
