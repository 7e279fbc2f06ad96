"""at-identifier: a handle or a DID, https://atproto.com/specs/lexicon#at-identifier."""

from __future__ import annotations

from sonet.syntax.did import is_valid_did
from sonet.syntax.errors import InvalidSyntaxError
from sonet.syntax.handle import is_valid_handle


def is_valid_at_identifier(s: str) -> bool:
    """True if ``s`` is a syntactically valid DID or handle."""
    if isinstance(s, str) and s.startswith("did:"):
        return is_valid_did(s)
    return is_valid_handle(s)


def ensure_valid_at_identifier(s: str) -> None:
    """Raise :class:`InvalidSyntaxError` unless ``s`` is a valid DID or handle."""
    if not is_valid_at_identifier(s):
        raise InvalidSyntaxError("at-identifier", s, "neither a valid DID nor a valid handle")
