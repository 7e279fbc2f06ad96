"""Recognising blob references and matching their MIME type against ``accept`` patterns.

https://atproto.com/specs/data-model#blob-type: a blob is ``{"$type": "blob", "ref": <CID>,
"mimeType": str, "size": int}``; the deprecated legacy form ``{"cid": str, "mimeType": str}`` is
still accepted (without a size). https://atproto.com/specs/lexicon#blob: ``accept`` entries are
``type/subtype``, ``type/*`` or ``*/*``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sonet.repo.cid import CID, InvalidCidError, parse_cid

__all__ = ["BlobInfo", "blob_info", "mime_accepted"]

BlobInfo = tuple[str, int | None]
"""``(mimeType, size)`` of a blob reference; the size is ``None`` for the legacy form."""


def blob_info(value: Any) -> BlobInfo | None:
    """The MIME type and size of a blob reference, or ``None`` if ``value`` is not one."""
    if not isinstance(value, dict):
        return None
    mime = value.get("mimeType")
    if not isinstance(mime, str):
        return None
    if len(value) == 4 and value.get("$type") == "blob":
        size = value.get("size")
        if isinstance(value.get("ref"), CID) and type(size) is int:
            return mime, size
        return None
    if len(value) == 2 and isinstance(value.get("cid"), str):
        try:
            parse_cid(value["cid"])
        except InvalidCidError:
            return None
        return mime, None
    return None


def mime_accepted(mime: str, patterns: Sequence[str]) -> bool:
    """True if ``mime`` matches one of ``patterns`` (compared case-insensitively)."""
    mime = mime.lower()
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern == "*/*" or mime == pattern:
            return True
        if (
            pattern.endswith("/*")
            and mime.startswith(pattern[:-1])
            and len(mime) > len(pattern) - 1
        ):
            return True
    return False
