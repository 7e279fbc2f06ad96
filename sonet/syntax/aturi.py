"""AT URIs in the restricted lexicon ``at-uri`` form, https://atproto.com/specs/at-uri-scheme.

``at://<did-or-handle>[/<collection-nsid>[/<record-key>]]``, at most 8 KiB,
without query, fragment or trailing slash.
"""

from __future__ import annotations

from dataclasses import dataclass

from sonet.syntax.atidentifier import is_valid_at_identifier
from sonet.syntax.errors import InvalidSyntaxError
from sonet.syntax.nsid import is_valid_nsid
from sonet.syntax.recordkey import is_valid_record_key

MAX_AT_URI_LENGTH = 8 * 1024
SCHEME_PREFIX = "at://"
_KIND = "AT URI"


@dataclass(frozen=True, slots=True)
class AtUri:
    """A parsed AT URI; constructing one validates its parts."""

    authority: str
    collection: str | None = None
    rkey: str | None = None

    def __post_init__(self) -> None:
        problem = _parts_problem(self.authority, self.collection, self.rkey)
        if problem is not None:
            raise InvalidSyntaxError(_KIND, self._joined(), problem)

    @classmethod
    def parse(cls, s: str) -> AtUri:
        """Parse and validate an AT URI string."""
        if not isinstance(s, str):
            raise InvalidSyntaxError(_KIND, s, "not a string")
        if not s.startswith(SCHEME_PREFIX):
            raise InvalidSyntaxError(_KIND, s, f"must start with {SCHEME_PREFIX!r}")
        if len(s) > MAX_AT_URI_LENGTH:
            raise InvalidSyntaxError(_KIND, s, f"longer than {MAX_AT_URI_LENGTH} characters")
        if "?" in s or "#" in s:
            raise InvalidSyntaxError(_KIND, s, "query and fragment parts are not supported")
        parts = s[len(SCHEME_PREFIX) :].split("/")
        if len(parts) > 3:
            raise InvalidSyntaxError(_KIND, s, "more than two path segments")
        return cls(*parts)

    def __str__(self) -> str:
        return self._joined()

    def _joined(self) -> str:
        parts = (self.authority, self.collection, self.rkey)
        return SCHEME_PREFIX + "/".join(p for p in parts if p is not None)


def is_valid_at_uri(s: str) -> bool:
    """True if ``s`` is a valid AT URI in the restricted lexicon form."""
    try:
        AtUri.parse(s)
    except InvalidSyntaxError:
        return False
    return True


def ensure_valid_at_uri(s: str) -> None:
    """Raise :class:`InvalidSyntaxError` unless ``s`` is a valid AT URI."""
    AtUri.parse(s)


def _parts_problem(authority: str, collection: str | None, rkey: str | None) -> str | None:
    """Why these parts do not form a valid AT URI, or None if they do."""
    if not is_valid_at_identifier(authority):
        return "authority is neither a valid DID nor a valid handle"
    if collection is None:
        return None if rkey is None else "a record key needs a collection"
    if not collection:
        return "empty path segment (trailing or double slash)"
    if not is_valid_nsid(collection):
        return "collection is not a valid NSID"
    if rkey is None:
        return None
    if not rkey:
        return "empty record key (trailing slash)"
    if not is_valid_record_key(rkey):
        return "record key is not valid"
    return None
