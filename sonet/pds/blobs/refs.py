"""The blob references in a record, with the MIME type and size each one claims.

https://atproto.com/specs/data-model#blob-type: ``{"$type": "blob", "ref": <CID>, "mimeType":
str, "size": int}``. The same objects :func:`sonet.pds.repo_writes.find_blob_refs` finds; here
the claimed type and size come along, to be checked against the stored blob.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sonet.repo.cid import CID

__all__ = ["BlobRef", "blob_refs"]


@dataclass(frozen=True, slots=True)
class BlobRef:
    """One reference; ``mime_type``/``size`` are None when the record leaves them out."""

    cid: CID
    mime_type: str | None
    size: int | None


def blob_refs(record: Any) -> list[BlobRef]:
    """Every blob reference anywhere in ``record``."""
    found: list[BlobRef] = []
    stack = [record]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("ref")
            if item.get("$type") == "blob" and isinstance(ref, CID):
                mime, size = item.get("mimeType"), item.get("size")
                found.append(
                    BlobRef(
                        ref,
                        mime if isinstance(mime, str) else None,
                        size if type(size) is int else None,
                    )
                )
            else:
                stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
