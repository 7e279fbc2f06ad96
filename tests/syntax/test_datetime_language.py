"""Datetime and language-tag parsing (https://atproto.com/specs/lexicon#datetime, #language)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sonet.syntax.datetime import (
    format_datetime,
    is_valid_datetime,
    normalize_datetime,
    parse_datetime,
)
from sonet.syntax.errors import InvalidSyntaxError
from sonet.syntax.language import LanguageTag, is_valid_language, parse_language


def test_parse_keeps_offset_and_truncates_to_microseconds() -> None:
    parsed = parse_datetime("1985-04-12T23:20:50.1234567891Z")
    assert parsed == datetime(1985, 4, 12, 23, 20, 50, 123456, tzinfo=UTC)
    offset = parse_datetime("1985-04-12T23:20:50-07:00")
    assert offset.utcoffset() == timedelta(hours=-7)
    assert offset == datetime(1985, 4, 13, 6, 20, 50, tzinfo=UTC)


def test_leap_days() -> None:
    assert is_valid_datetime("2024-02-29T00:00:00Z")
    assert is_valid_datetime("2000-02-29T00:00:00Z")
    assert is_valid_datetime("0000-02-29T00:00:00Z")
    assert not is_valid_datetime("1900-02-29T00:00:00Z")
    assert not is_valid_datetime("2023-02-29T00:00:00Z")
    assert not is_valid_datetime("2023-04-31T00:00:00Z")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1985-04-12T23:20:50.123-00:00", '"-00:00"'),
        ("1985-04-12T23:20:50.123+24:00", "offset out of range"),
        ("1985-04-12T23:20:50.123", "with a timezone"),
        ("1985-13-01T00:00:00Z", "month out of range"),
        ("0000-01-01T00:30:00+01:00", "before year 0000"),
        ("0000-06-01T00:00:00Z", "outside Python's datetime range"),
    ],
)
def test_parse_rejections_say_why(text: str, reason: str) -> None:
    with pytest.raises(InvalidSyntaxError, match="invalid datetime") as caught:
        parse_datetime(text)
    assert reason in str(caught.value)


def test_semantically_impossible_datetimes_are_not_valid_lexicon_datetimes() -> None:
    assert not is_valid_datetime("1985-04-12T23:99:50.123Z")
    assert not is_valid_datetime("0000-01-01T00:00:00+01:00")
    assert is_valid_datetime("0000-01-01T00:00:00-01:00")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1985-04-12T23:20:50.123456Z", "1985-04-12T23:20:50.123Z"),
        ("1985-04-12T23:20:50Z", "1985-04-12T23:20:50.000Z"),
        ("1985-04-12T23:20:50.1-07:00", "1985-04-13T06:20:50.100Z"),
        ("0985-04-12T23:20:50+01:00", "0985-04-12T22:20:50.000Z"),
        ("1985-04-12T23:20:50", "1985-04-12T23:20:50.000Z"),
        ("1985-04-12", "1985-04-12T00:00:00.000Z"),
        ("1985-04-12T23:20:50.123+0530", "1985-04-12T17:50:50.123Z"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize_datetime(text) == expected
    assert is_valid_datetime(expected)


def test_normalize_rejects_garbage() -> None:
    with pytest.raises(InvalidSyntaxError, match="not an ISO 8601 datetime"):
        normalize_datetime("yesterday")


def test_format_datetime() -> None:
    assert format_datetime(datetime(2024, 1, 2, 3, 4, 5, 678901)) == "2024-01-02T03:04:05.678Z"
    tz = timezone(timedelta(hours=2))
    assert format_datetime(datetime(2024, 1, 2, 3, 4, 5, tzinfo=tz)) == "2024-01-02T01:04:05.000Z"
    assert format_datetime(datetime(9, 1, 2, tzinfo=UTC)) == "0009-01-02T00:00:00.000Z"


def test_parse_language_parts() -> None:
    assert parse_language("zh-Hant-TW-x-private") == LanguageTag(
        tag="zh-Hant-TW-x-private",
        language="zh",
        script="Hant",
        region="TW",
        private_use="x-private",
    )
    assert parse_language("de-CH-1901-u-co-phonebk-t-en") == LanguageTag(
        tag="de-CH-1901-u-co-phonebk-t-en",
        language="de",
        region="CH",
        variants=("1901",),
        extensions=("u-co-phonebk", "t-en"),
    )
    assert parse_language("i-navajo") == LanguageTag(tag="i-navajo", language="i-navajo")


def test_language_rejections() -> None:
    assert not is_valid_language("en_US")
    with pytest.raises(InvalidSyntaxError, match="well-formed BCP 47"):
        parse_language("en_US")
    with pytest.raises(InvalidSyntaxError, match="variant subtag 'rozaj' is repeated"):
        parse_language("sl-rozaj-biske-rozaj")
