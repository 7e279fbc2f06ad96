"""Datetime strings (the lexicon ``datetime`` format), https://atproto.com/specs/lexicon#datetime.

The accepted syntax is the intersection of RFC 3339 and ISO 8601: an uppercase
``T``, whole seconds, optional fractional seconds, and a required timezone
(``Z`` or ``±HH:MM``, but not ``-00:00``). The fields must also form a real
calendar instant that does not fall before year 0000 once converted to UTC.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, timezone

from sonet.syntax.errors import InvalidSyntaxError

MAX_DATETIME_LENGTH = 64
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,20}))?(Z|([+-])([0-9]{2}):([0-9]{2}))"
)
_KIND = "datetime"


def is_valid_datetime(s: str) -> bool:
    """True if ``s`` is a valid atproto datetime string."""
    return _problem(s) is None


def ensure_valid_datetime(s: str) -> None:
    """Raise :class:`InvalidSyntaxError` unless ``s`` is a valid atproto datetime string."""
    problem = _problem(s)
    if problem is not None:
        raise InvalidSyntaxError(_KIND, s, problem)


def parse_datetime(s: str) -> datetime:
    """A timezone-aware :class:`datetime` for a valid datetime string, in the string's own offset.

    Fractional seconds beyond microseconds are truncated. Year 0000 is valid
    syntax but cannot be represented by Python's :class:`datetime`, so it raises.
    """
    ensure_valid_datetime(s)
    match = _DATETIME.fullmatch(s)
    assert match is not None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if year == 0:
        raise InvalidSyntaxError(_KIND, s, "year 0000 is outside Python's datetime range")
    fraction = match[7] or ""
    micros = int(fraction[:6].ljust(6, "0"))
    return datetime(year, month, day, hour, minute, second, micros, tzinfo=_tzinfo(match))


def format_datetime(dt: datetime) -> str:
    """The preferred string form of ``dt``: UTC, millisecond precision, ``Z`` suffix.

    A naive ``dt`` is taken to be in UTC.
    """
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        dt = dt.astimezone(UTC)
    except OverflowError as err:
        raise InvalidSyntaxError(_KIND, dt.isoformat(), "outside the representable range") from err
    return f"{dt.year:04d}-{dt:%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


def normalize_datetime(s: str) -> str:
    """The preferred form (see :func:`format_datetime`) of a datetime string.

    Accepts valid atproto datetimes and, more leniently, anything
    :meth:`datetime.fromisoformat` reads (a missing timezone means UTC).
    """
    if is_valid_datetime(s):
        return format_datetime(parse_datetime(s))
    try:
        parsed = datetime.fromisoformat(s)
    except (TypeError, ValueError) as err:
        raise InvalidSyntaxError(_KIND, s, "not an ISO 8601 datetime") from err
    return format_datetime(parsed)


def _tzinfo(match: re.Match[str]) -> timezone:
    if match[8] == "Z":
        return UTC
    offset = timedelta(hours=int(match[10]), minutes=int(match[11]))
    return timezone(-offset if match[9] == "-" else offset)


def _problem(s: object) -> str | None:
    """Why ``s`` is not a valid datetime, or None if it is."""
    if not isinstance(s, str):
        return "not a string"
    if len(s) > MAX_DATETIME_LENGTH:
        return f"longer than {MAX_DATETIME_LENGTH} characters"
    match = _DATETIME.fullmatch(s)
    if match is None:
        return 'must look like "1985-04-12T23:20:50.123Z" (RFC 3339 with a timezone)'
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if not 1 <= month <= 12:
        return "month out of range"
    if not 1 <= day <= _days_in_month(year, month):
        return "day out of range for the month"
    if hour > 23 or minute > 59 or second > 59:
        return "time of day out of range"
    if match[8] != "Z":
        offset_minutes = int(match[10]) * 60 + int(match[11])
        if int(match[10]) > 23 or int(match[11]) > 59:
            return "timezone offset out of range"
        if match[9] == "-" and offset_minutes == 0:
            return 'use "Z" or "+00:00" for UTC, not "-00:00"'
        before_year_zero = hour * 60 + minute < offset_minutes
        if match[9] == "+" and (year, month, day) == (0, 1, 1) and before_year_zero:
            return "falls before year 0000 in UTC"
    return None


def _days_in_month(year: int, month: int) -> int:
    """Days in a month of the proleptic Gregorian calendar (where year 0000 is a leap year)."""
    if month == 2:
        return 29 if calendar.isleap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31
