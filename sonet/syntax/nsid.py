"""NSID syntax, https://atproto.com/specs/nsid#namespaced-identifiers-nsids."""

from __future__ import annotations

import re

from sonet.syntax.errors import InvalidSyntaxError

MAX_NSID_LENGTH = 317
_SEGMENT = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_NSID = re.compile(
    rf"[a-zA-Z](?:[a-zA-Z0-9-]{{0,61}}[a-zA-Z0-9])?(?:\.{_SEGMENT})+\.[a-zA-Z][a-zA-Z0-9]{{0,62}}"
)
_SEGMENT_RE = re.compile(_SEGMENT)
_NAME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9]{0,62}")


def is_valid_nsid(s: str) -> bool:
    """True if ``s`` is a syntactically valid NSID (reversed domain authority + name)."""
    return isinstance(s, str) and len(s) <= MAX_NSID_LENGTH and _NSID.fullmatch(s) is not None


def ensure_valid_nsid(s: str) -> None:
    """Raise :class:`InvalidSyntaxError` unless ``s`` is a syntactically valid NSID."""
    if not is_valid_nsid(s):
        raise InvalidSyntaxError("NSID", s, _problem(s))


def nsid_authority(nsid: str) -> str:
    """The domain authority of a valid NSID as a hostname: ``app.bsky.feed.post`` -> ``feed.bsky.app``."""
    ensure_valid_nsid(nsid)
    return ".".join(reversed(nsid.split(".")[:-1])).lower()


def nsid_name(nsid: str) -> str:
    """The name (last segment) of a valid NSID: ``app.bsky.feed.post`` -> ``post``."""
    ensure_valid_nsid(nsid)
    return nsid.rpartition(".")[2]


def _problem(s: object) -> str:
    if not isinstance(s, str):
        return "not a string"
    if len(s) > MAX_NSID_LENGTH:
        return f"longer than {MAX_NSID_LENGTH} characters"
    segments = s.split(".")
    if len(segments) < 3:
        return "must have at least three dot-separated segments"
    *authority, name = segments
    for segment in authority:
        if _SEGMENT_RE.fullmatch(segment) is None:
            return (
                f"authority segment {segment[:64]!r} must be 1-63 ASCII letters, digits or"
                " hyphens, not starting or ending with a hyphen"
            )
    if authority[0][0].isdigit():
        return "the first segment (top-level domain) must not start with a digit"
    if _NAME_RE.fullmatch(name) is None:
        return f"name {name[:64]!r} must be 1-63 ASCII letters and digits, starting with a letter"
    return "not a valid NSID"
