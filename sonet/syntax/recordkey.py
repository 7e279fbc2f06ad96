"""Record key syntax, https://atproto.com/specs/record-key#record-key-syntax."""

from __future__ import annotations

import re

from sonet.syntax.errors import InvalidSyntaxError

MAX_RECORD_KEY_LENGTH = 512
_RECORD_KEY = re.compile(r"[a-zA-Z0-9_~.:-]{1,512}")


def is_valid_record_key(s: str) -> bool:
    """True if ``s`` is a syntactically valid record key."""
    return isinstance(s, str) and _RECORD_KEY.fullmatch(s) is not None and s != "." and s != ".."


def ensure_valid_record_key(s: str) -> None:
    """Raise :class:`InvalidSyntaxError` unless ``s`` is a syntactically valid record key."""
    if not is_valid_record_key(s):
        raise InvalidSyntaxError("record key", s, _problem(s))


def _problem(s: object) -> str:
    if not isinstance(s, str):
        return "not a string"
    if not 1 <= len(s) <= MAX_RECORD_KEY_LENGTH:
        return f"must be 1-{MAX_RECORD_KEY_LENGTH} characters long"
    if s in (".", ".."):
        return '"." and ".." are not allowed'
    return "may only contain ASCII letters, digits and _~.:-"
