"""Errors of blob operations, each with the XRPC error name the reference PDS answers with."""

from __future__ import annotations

from sonet.pds.errors import PdsError

__all__ = [
    "BlobNotFoundError",
    "BlobTakendownError",
    "InvalidBlobKeyError",
    "InvalidMimeTypeError",
    "InvalidSizeError",
]


class BlobNotFoundError(PdsError):
    """The account has no (available) blob with that CID, or its bytes are not stored."""

    error = "BlobNotFound"


class InvalidMimeTypeError(PdsError):
    """A record's blob reference names another MIME type than the one stored."""

    error = "InvalidMimeType"


class InvalidSizeError(PdsError):
    """A record's blob reference names another size than the one stored."""

    error = "InvalidSize"


class BlobTakendownError(PdsError):
    """The blob was taken down by a moderator and can not be uploaded again."""


class InvalidBlobKeyError(ValueError):
    """A DID, CID or temporary key that can not name a stored blob (a programming error)."""
