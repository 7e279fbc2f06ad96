"""DID syntax (method-agnostic), https://atproto.com/specs/did#at-protocol-did-identifier-syntax."""

from __future__ import annotations

import re

from sonet.syntax.errors import InvalidSyntaxError

MAX_DID_LENGTH = 2 * 1024
_DID = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]")
_METHOD = re.compile(r"[a-z]+")


def is_valid_did(s: str) -> bool:
    """True if ``s`` is a syntactically valid DID."""
    return isinstance(s, str) and len(s) <= MAX_DID_LENGTH and _DID.fullmatch(s) is not None


def ensure_valid_did(s: str) -> None:
    """Raise :class:`InvalidSyntaxError` unless ``s`` is a syntactically valid DID."""
    if not is_valid_did(s):
        raise InvalidSyntaxError("DID", s, _problem(s))


def _problem(s: object) -> str:
    if not isinstance(s, str):
        return "not a string"
    if len(s) > MAX_DID_LENGTH:
        return f"longer than {MAX_DID_LENGTH} characters"
    parts = s.split(":", 2)
    if parts[0] != "did" or len(parts) < 3:
        return 'must have the form "did:<method>:<identifier>"'
    if _METHOD.fullmatch(parts[1]) is None:
        return "method must be one or more lowercase ASCII letters"
    if not parts[2]:
        return "identifier is empty"
    if s[-1] in ":%":
        return 'must not end with ":" or "%"'
    return "identifier may only contain ASCII letters, digits and ._:%-"
