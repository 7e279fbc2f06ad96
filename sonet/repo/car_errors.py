"""Typed errors of the CAR reader (https://ipld.io/specs/transport/car/carv1/).

Every problem found in untrusted CAR bytes raises a subclass of :class:`CarError`, itself a
:class:`ValueError`, so callers can map them all to one "invalid repo" response.
"""

from __future__ import annotations

__all__ = [
    "CarBlockError",
    "CarCidError",
    "CarError",
    "CarHashMismatchError",
    "CarHeaderError",
    "CarLimitError",
    "CarTruncatedError",
    "CarVarintError",
]


class CarError(ValueError):
    """Bytes are not a well-formed CARv1 archive within the configured limits."""


class CarHeaderError(CarError):
    """The header is not a DAG-CBOR map with ``version: 1`` and a list of CID ``roots``."""


class CarVarintError(CarError):
    """A length prefix is not a minimal unsigned LEB128 varint of at most 9 bytes."""


class CarTruncatedError(CarError):
    """The input ended inside the header or inside a block section."""


class CarLimitError(CarError):
    """The archive exceeds a limit on block count, block size or total size."""


class CarBlockError(CarError):
    """A block section is malformed."""


class CarCidError(CarBlockError):
    """A block's CID is malformed or not a CIDv1 with sha2-256 and the dag-cbor or raw codec."""


class CarHashMismatchError(CarBlockError):
    """A block's sha2-256 digest does not match the one in its CID."""
