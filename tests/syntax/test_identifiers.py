"""Identifier helpers beyond plain validity: handles, NSIDs, DIDs, error messages, dispatch."""

from __future__ import annotations

import pytest

from sonet.syntax.did import ensure_valid_did
from sonet.syntax.errors import InvalidSyntaxError
from sonet.syntax.formats import FORMAT_NAMES, ensure_format, validate_format
from sonet.syntax.handle import (
    INVALID_HANDLE,
    ensure_valid_handle,
    is_disallowed_handle_tld,
    is_valid_handle,
    normalize_handle,
)
from sonet.syntax.nsid import ensure_valid_nsid, nsid_authority, nsid_name
from sonet.syntax.uri import ensure_valid_uri, is_valid_uri

LEXICON_FORMATS = {
    "at-identifier",
    "at-uri",
    "cid",
    "datetime",
    "did",
    "handle",
    "language",
    "nsid",
    "record-key",
    "tid",
    "uri",
}


def test_all_lexicon_formats_are_known() -> None:
    assert FORMAT_NAMES == LEXICON_FORMATS


def test_unknown_format_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown lexicon string format 'email'"):
        validate_format("email", "a@b.c")
    with pytest.raises(ValueError, match="unknown"):
        ensure_format("email", "a@b.c")


@pytest.mark.parametrize("fmt", sorted(LEXICON_FORMATS))
@pytest.mark.parametrize("value", [None, 7, b"did:plc:abc", ["x"]])
def test_non_strings_are_invalid_not_crashes(fmt: str, value: object) -> None:
    assert validate_format(fmt, value) is False  # type: ignore[arg-type]
    with pytest.raises(InvalidSyntaxError):
        ensure_format(fmt, value)  # type: ignore[arg-type]


def test_normalize_handle_lowercases() -> None:
    assert normalize_handle("Alice.Bsky.SOCIAL") == "alice.bsky.social"
    with pytest.raises(InvalidSyntaxError):
        normalize_handle("not a handle")


@pytest.mark.parametrize(
    "handle",
    [
        "laptop.local",
        "x.ARPA",
        "a.invalid",
        "a.localhost",
        "a.internal",
        "a.example",
        "a.alt",
        "x.onion",
    ],
)
def test_disallowed_tlds_are_syntactically_valid_but_flagged(handle: str) -> None:
    assert is_valid_handle(handle)
    assert is_disallowed_handle_tld(handle)


def test_ordinary_tlds_are_allowed() -> None:
    assert not is_disallowed_handle_tld("alice.bsky.social")
    assert not is_disallowed_handle_tld("example.com")
    assert is_valid_handle(INVALID_HANDLE) and is_disallowed_handle_tld(INVALID_HANDLE)


def test_nsid_parts() -> None:
    assert nsid_authority("app.bsky.feed.post") == "feed.bsky.app"
    assert nsid_authority("COM.Example.fooBar") == "example.com"
    assert nsid_name("com.example.fooBar") == "fooBar"


@pytest.mark.parametrize(
    ("check", "value", "reason"),
    [
        (ensure_valid_did, "did:PLC:abc", "method must be one or more lowercase"),
        (ensure_valid_did, "did:plc:abc:", 'must not end with ":"'),
        (ensure_valid_did, "did:plc:a b", "identifier may only contain"),
        (ensure_valid_did, "plc:abc", 'must have the form "did:<method>:<identifier>"'),
        (ensure_valid_handle, "alice", "at least two"),
        (ensure_valid_handle, "alice..test", "empty label"),
        (ensure_valid_handle, "-alice.test", "label '-alice'"),
        (ensure_valid_handle, "alice.0test", "TLD"),
        (ensure_valid_nsid, "com.example", "at least three"),
        (ensure_valid_nsid, "com.example.foo-bar", "name 'foo-bar'"),
        (ensure_valid_nsid, "1com.example.foo", "must not start with a digit"),
    ],
)
def test_error_messages_explain(check: object, value: str, reason: str) -> None:
    assert callable(check)
    with pytest.raises(InvalidSyntaxError) as caught:
        check(value)
    assert reason in str(caught.value)
    assert caught.value.value == value


def test_error_message_truncates_huge_values() -> None:
    with pytest.raises(InvalidSyntaxError) as caught:
        ensure_valid_did("did:plc:" + "a" * 5000)
    message = str(caught.value)
    assert len(message) < 300
    assert "5008 chars" in message


def test_uri_tolerates_iris_but_limits_utf8_bytes() -> None:
    assert is_valid_uri("https://ja.wikipedia.org/wiki/日本")
    assert is_valid_uri("https://example.com/" + "x" * 8000)
    with pytest.raises(InvalidSyntaxError, match="8192 bytes"):
        ensure_valid_uri("https://example.com/" + "日" * 3000)
