"""CID string syntax (the lexicon ``cid`` format), https://atproto.com/specs/data-model#link-and-cid-formats.

Only the string shape is checked: a multibase-encoded CIDv1 of 8-256 characters.
Legacy CIDv0 strings (base58btc, 46 characters starting ``Qm``) are rejected.
"""

from __future__ import annotations

import re

from sonet.syntax.errors import InvalidSyntaxError

_CID = re.compile(r"[a-zA-Z0-9+=]{8,256}")
_CIDV0 = re.compile(r"Qm[1-9A-HJ-NP-Za-km-z]{44}")


def is_valid_cid(s: str) -> bool:
    """True if ``s`` looks like a multibase CIDv1 string."""
    return isinstance(s, str) and _CID.fullmatch(s) is not None and _CIDV0.fullmatch(s) is None


def ensure_valid_cid(s: str) -> None:
    """Raise :class:`InvalidSyntaxError` unless ``s`` looks like a multibase CIDv1 string."""
    if not is_valid_cid(s):
        raise InvalidSyntaxError("CID", s, _problem(s))


def _problem(s: object) -> str:
    if not isinstance(s, str):
        return "not a string"
    if not 8 <= len(s) <= 256:
        return "must be 8-256 characters long"
    if _CIDV0.fullmatch(s) is not None:
        return "CIDv0 is not supported"
    return "may only contain ASCII letters, digits, + and ="
