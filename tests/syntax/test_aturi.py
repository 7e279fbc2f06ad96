"""AtUri parsing, validation and formatting (https://atproto.com/specs/at-uri-scheme)."""

from __future__ import annotations

import dataclasses

import pytest

from sonet.syntax.aturi import AtUri, ensure_valid_at_uri, is_valid_at_uri
from sonet.syntax.errors import InvalidSyntaxError

POST = "at://did:plc:44ybard66vv44zksje25o7dz/app.bsky.feed.post/3jwdwj2ctlk26"


def test_parse_record_uri() -> None:
    uri = AtUri.parse(POST)
    assert uri == AtUri("did:plc:44ybard66vv44zksje25o7dz", "app.bsky.feed.post", "3jwdwj2ctlk26")
    assert str(uri) == POST


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("at://alice.test", ("alice.test", None, None)),
        ("at://alice.test/app.bsky.feed.like", ("alice.test", "app.bsky.feed.like", None)),
        (
            "at://did:web:example.com/app.bsky.actor.profile/self",
            ("did:web:example.com", "app.bsky.actor.profile", "self"),
        ),
    ],
)
def test_parse_shorter_uris(text: str, parts: tuple[str, str | None, str | None]) -> None:
    uri = AtUri.parse(text)
    assert (uri.authority, uri.collection, uri.rkey) == parts
    assert str(uri) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("https://alice.test", "must start with 'at://'"),
        ("at://alice.test/", "empty path segment"),
        ("at://alice.test/app.bsky.feed.post/", "empty record key"),
        ("at://alice.test/app.bsky.feed.post/a/b", "more than two path segments"),
        ("at://alice_test", "authority"),
        ("at://alice.test/not_an_nsid", "collection"),
        ("at://alice.test/app.bsky.feed.post/..", "record key"),
        ("at://alice.test/app.bsky.feed.post/x#/frag", "fragment parts are not supported"),
        ("at://alice.test?query=1", "query and fragment"),
        ("at://alice.test/app.bsky.feed.post/" + "a" * 8200, "longer than 8192"),
    ],
)
def test_rejections_say_why(text: str, reason: str) -> None:
    with pytest.raises(InvalidSyntaxError, match="invalid AT URI") as caught:
        AtUri.parse(text)
    assert reason in str(caught.value)
    assert not is_valid_at_uri(text)
    with pytest.raises(InvalidSyntaxError):
        ensure_valid_at_uri(text)


def test_constructor_validates() -> None:
    with pytest.raises(InvalidSyntaxError, match="needs a collection"):
        AtUri("alice.test", None, "self")
    with pytest.raises(InvalidSyntaxError, match="collection"):
        AtUri("alice.test", "nope", None)


def test_non_string_input_is_a_syntax_error() -> None:
    with pytest.raises(InvalidSyntaxError, match="not a string"):
        AtUri.parse(42)  # type: ignore[arg-type]
    assert not is_valid_at_uri(None)  # type: ignore[arg-type]


def test_is_frozen_and_hashable() -> None:
    uri = AtUri.parse(POST)
    with pytest.raises(dataclasses.FrozenInstanceError):
        uri.rkey = "other"  # type: ignore[misc]
    assert {uri: 1}[AtUri.parse(POST)] == 1
