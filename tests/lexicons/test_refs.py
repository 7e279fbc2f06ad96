"""Reference syntax and resolution."""

from __future__ import annotations

import pytest

from sonet.lexicons import LexiconError
from sonet.lexicons.refs import absolute_ref, is_valid_ref, split_ref


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("#view", ("", "view")),
        ("app.bsky.feed.post", ("app.bsky.feed.post", "main")),
        ("app.bsky.feed.defs#postView", ("app.bsky.feed.defs", "postView")),
    ],
)
def test_split(ref: str, expected: tuple[str, str]) -> None:
    assert split_ref(ref) == expected


@pytest.mark.parametrize(
    "ref", ["", "#", "app", "app.bsky#", "a#b#c", "#a b", "bad nsid#x", "app.bsky.feed.post#"]
)
def test_invalid(ref: str) -> None:
    assert not is_valid_ref(ref)
    with pytest.raises(LexiconError):
        split_ref(ref)


def test_absolute() -> None:
    assert absolute_ref("#x", "com.example.doc") == "com.example.doc#x"
    assert absolute_ref("com.example.other", "com.example.doc") == "com.example.other#main"
    with pytest.raises(LexiconError, match=r"needs the NSID"):
        absolute_ref("#x")


def test_not_a_string() -> None:
    assert not is_valid_ref(5)
