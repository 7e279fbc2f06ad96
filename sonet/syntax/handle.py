"""Handle syntax, https://atproto.com/specs/handle#handle-identifier-syntax."""

from __future__ import annotations

import re

from sonet.syntax.errors import InvalidSyntaxError

MAX_HANDLE_LENGTH = 253
INVALID_HANDLE = "handle.invalid"
"""Placeholder shown for an account whose handle does not verify (spec: #invalid-handles)."""

DISALLOWED_HANDLE_TLDS = frozenset(
    {"alt", "arpa", "example", "internal", "invalid", "local", "localhost", "onion"}
)
"""TLDs that are syntactically valid but must not be registered or resolved as handles."""

_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_TLD = r"[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_HANDLE = re.compile(rf"(?:{_LABEL}\.)+{_TLD}")
_LABEL_RE = re.compile(_LABEL)


def is_valid_handle(s: str) -> bool:
    """True if ``s`` is a syntactically valid handle (a DNS hostname with a letter-led TLD)."""
    return isinstance(s, str) and len(s) <= MAX_HANDLE_LENGTH and _HANDLE.fullmatch(s) is not None


def ensure_valid_handle(s: str) -> None:
    """Raise :class:`InvalidSyntaxError` unless ``s`` is a syntactically valid handle."""
    if not is_valid_handle(s):
        raise InvalidSyntaxError("handle", s, _problem(s))


def normalize_handle(s: str) -> str:
    """The canonical (lowercase) form of a valid handle; raises if ``s`` is not one."""
    ensure_valid_handle(s)
    return s.lower()


def is_disallowed_handle_tld(handle: str) -> bool:
    """True if the handle ends in a TLD that the spec forbids for real accounts."""
    return handle.rpartition(".")[2].lower() in DISALLOWED_HANDLE_TLDS


def is_handle_under(handle: str, domains: tuple[str, ...] | list[str]) -> bool:
    """True if ``handle`` (lower-case) is one of ``domains`` or a name under it; a domain is
    written with or without its leading dot (``.test``, ``test``)."""
    for domain in domains:
        bare = domain.lstrip(".").lower()
        if bare and (handle == bare or handle.endswith("." + bare)):
            return True
    return False


def _problem(s: object) -> str:
    if not isinstance(s, str):
        return "not a string"
    if len(s) > MAX_HANDLE_LENGTH:
        return f"longer than {MAX_HANDLE_LENGTH} characters"
    labels = s.split(".")
    if len(labels) < 2:
        return "must have at least two dot-separated labels"
    for label in labels:
        if not label:
            return "empty label (leading, trailing or double dot)"
        if _LABEL_RE.fullmatch(label) is None:
            return (
                f"label {label[:64]!r} must be 1-63 ASCII letters, digits or hyphens,"
                " not starting or ending with a hyphen"
            )
    return "the last label (TLD) must start with a letter"
