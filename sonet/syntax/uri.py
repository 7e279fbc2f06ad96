"""Generic URI syntax (the lexicon ``uri`` format), https://atproto.com/specs/lexicon#uri."""

from __future__ import annotations

import re

from sonet.syntax.errors import InvalidSyntaxError

MAX_URI_BYTES = 8 * 1024
_URI = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:(?://)?[^\s/\x00-\x1f\x7f][^\s\x00-\x1f\x7f]*")
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")


def is_valid_uri(s: str) -> bool:
    """True if ``s`` is a URI: an RFC 3986 scheme, ``:``, and a non-empty body without whitespace.

    Like the reference implementation, non-ASCII characters (IRIs) are tolerated.
    """
    return isinstance(s, str) and _fits(s) and _URI.fullmatch(s) is not None


def ensure_valid_uri(s: str) -> None:
    """Raise :class:`InvalidSyntaxError` unless ``s`` is a valid URI."""
    if not is_valid_uri(s):
        raise InvalidSyntaxError("URI", s, _problem(s))


def _fits(s: str) -> bool:
    return len(s) <= MAX_URI_BYTES and (s.isascii() or len(s.encode()) <= MAX_URI_BYTES)


def _problem(s: object) -> str:
    if not isinstance(s, str):
        return "not a string"
    if not _fits(s):
        return f"longer than {MAX_URI_BYTES} bytes (UTF-8)"
    if _SCHEME.match(s) is None:
        return "must start with a scheme (a letter, then letters, digits, +.-) and ':'"
    return "the part after the scheme must be non-empty and contain no whitespace"
