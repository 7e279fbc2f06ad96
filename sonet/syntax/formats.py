"""Dispatch for the lexicon string formats, https://atproto.com/specs/lexicon#string-formats."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from sonet.syntax.atidentifier import ensure_valid_at_identifier, is_valid_at_identifier
from sonet.syntax.aturi import ensure_valid_at_uri, is_valid_at_uri
from sonet.syntax.cid import ensure_valid_cid, is_valid_cid
from sonet.syntax.datetime import ensure_valid_datetime, is_valid_datetime
from sonet.syntax.did import ensure_valid_did, is_valid_did
from sonet.syntax.handle import ensure_valid_handle, is_valid_handle
from sonet.syntax.language import ensure_valid_language, is_valid_language
from sonet.syntax.nsid import ensure_valid_nsid, is_valid_nsid
from sonet.syntax.recordkey import ensure_valid_record_key, is_valid_record_key
from sonet.syntax.tid import ensure_valid_tid, is_valid_tid
from sonet.syntax.uri import ensure_valid_uri, is_valid_uri

_Check = Callable[[str], bool]
_Ensure = Callable[[str], None]

_FORMATS: Mapping[str, tuple[_Check, _Ensure]] = MappingProxyType(
    {
        "at-identifier": (is_valid_at_identifier, ensure_valid_at_identifier),
        "at-uri": (is_valid_at_uri, ensure_valid_at_uri),
        "cid": (is_valid_cid, ensure_valid_cid),
        "datetime": (is_valid_datetime, ensure_valid_datetime),
        "did": (is_valid_did, ensure_valid_did),
        "handle": (is_valid_handle, ensure_valid_handle),
        "language": (is_valid_language, ensure_valid_language),
        "nsid": (is_valid_nsid, ensure_valid_nsid),
        "record-key": (is_valid_record_key, ensure_valid_record_key),
        "tid": (is_valid_tid, ensure_valid_tid),
        "uri": (is_valid_uri, ensure_valid_uri),
    }
)

FORMAT_NAMES = frozenset(_FORMATS)
"""Every lexicon string format name this module knows."""


def _lookup(fmt: str) -> tuple[_Check, _Ensure]:
    try:
        return _FORMATS[fmt]
    except (KeyError, TypeError):
        raise ValueError(f"unknown lexicon string format {fmt!r}") from None


def validate_format(fmt: str, value: str) -> bool:
    """True if ``value`` is valid for the lexicon string format ``fmt``.

    Raises :class:`ValueError` for an unknown format name.
    """
    return _lookup(fmt)[0](value)


def ensure_format(fmt: str, value: str) -> None:
    """Raise :class:`~sonet.syntax.errors.InvalidSyntaxError` (with the reason) unless
    ``value`` is valid for ``fmt``; raise :class:`ValueError` for an unknown format name."""
    _lookup(fmt)[1](value)
