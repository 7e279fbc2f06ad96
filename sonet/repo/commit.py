"""Signed repository commit objects.

https://atproto.com/specs/repository#commit-objects: a DAG-CBOR map ``{did, version: 3, data,
rev, prev, sig}``. ``data`` links the MST root, ``rev`` is a TID, ``prev`` must be present and is
almost always null, and ``sig`` signs the DAG-CBOR of the same map without ``sig`` (SHA-256, then
ECDSA with a low-S compact 64-byte signature, https://atproto.com/specs/cryptography).
Version 2 commits have the same shape and are read as legacy (:attr:`Commit.is_legacy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sonet.crypto import Keypair, PublicKey
from sonet.repo.cbor import CborDecodeError, decode, encode
from sonet.repo.cid import CID, cid_for_cbor
from sonet.syntax.did import is_valid_did
from sonet.syntax.tid import is_valid_tid

__all__ = [
    "COMMIT_VERSION",
    "LEGACY_COMMIT_VERSION",
    "MAX_COMMIT_SIZE",
    "Commit",
    "InvalidCommitError",
    "decode_commit",
    "sign_commit",
    "verify_commit",
]

COMMIT_VERSION: Final = 3
LEGACY_COMMIT_VERSION: Final = 2
SIGNATURE_LENGTH: Final = 64
MAX_COMMIT_SIZE: Final = 8 * 1024
"""A commit is a few hundred bytes; a DID can be at most 2 KiB."""

_FIELDS: Final = frozenset({"did", "version", "data", "rev", "prev", "sig"})


class InvalidCommitError(ValueError):
    """A commit object or block does not match the repository commit schema."""


def _check_dag_cbor_link(value: object, field: str) -> None:
    if not isinstance(value, CID) or not value.is_cidv1_dag_cbor_sha256_32():
        raise InvalidCommitError(f"commit {field} must be a sha2-256 dag-cbor CID link")


@dataclass(frozen=True, slots=True)
class Commit:
    """A signed commit; construction validates every field (:class:`InvalidCommitError`)."""

    did: str
    version: int
    data: CID
    rev: str
    prev: CID | None
    sig: bytes

    def __post_init__(self) -> None:
        if not is_valid_did(self.did):
            raise InvalidCommitError(f"commit did is not a valid DID: {self.did!r:.100}")
        if type(self.version) is not int or self.version not in (
            COMMIT_VERSION,
            LEGACY_COMMIT_VERSION,
        ):
            raise InvalidCommitError(f"unsupported commit version {self.version!r:.20}")
        _check_dag_cbor_link(self.data, "data")
        if not isinstance(self.rev, str):
            raise InvalidCommitError("commit rev must be a string")
        if self.version == COMMIT_VERSION and not is_valid_tid(self.rev):
            raise InvalidCommitError(f"commit rev is not a TID: {self.rev!r:.40}")
        if self.prev is not None:
            _check_dag_cbor_link(self.prev, "prev")
        if not isinstance(self.sig, bytes) or len(self.sig) != SIGNATURE_LENGTH:
            raise InvalidCommitError(f"commit sig must be {SIGNATURE_LENGTH} bytes")

    @property
    def is_legacy(self) -> bool:
        """True for a version 2 commit."""
        return self.version == LEGACY_COMMIT_VERSION

    def _unsigned(self) -> dict[str, Any]:
        return {
            "did": self.did,
            "version": self.version,
            "data": self.data,
            "rev": self.rev,
            "prev": self.prev,
        }

    def unsigned_bytes(self) -> bytes:
        """DAG-CBOR of the commit without ``sig``: the bytes the signature covers."""
        return encode(self._unsigned())

    def to_block(self) -> tuple[CID, bytes]:
        """The commit's CID and its DAG-CBOR block."""
        block = encode({**self._unsigned(), "sig": self.sig})
        return cid_for_cbor(block), block


def sign_commit(did: str, data: CID, rev: str, keypair: Keypair, prev: CID | None = None) -> Commit:
    """Build and sign a version 3 commit pointing at the MST root ``data``."""
    unsigned = Commit(did, COMMIT_VERSION, data, rev, prev, bytes(SIGNATURE_LENGTH))
    return Commit(did, COMMIT_VERSION, data, rev, prev, keypair.sign(unsigned.unsigned_bytes()))


def verify_commit(commit: Commit, public_key: PublicKey) -> bool:
    """True only if ``commit.sig`` is a valid low-S signature by ``public_key``; never raises."""
    return public_key.verify(commit.unsigned_bytes(), commit.sig)


def decode_commit(block: bytes) -> Commit:
    """Parse a commit block strictly: exactly the six fields, each of the right type."""
    try:
        value = decode(block, max_size=MAX_COMMIT_SIZE)
    except CborDecodeError as exc:
        raise InvalidCommitError(f"commit block is not valid DAG-CBOR: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidCommitError(f"commit must be a map, got {type(value).__name__}")
    keys = value.keys()
    if keys != _FIELDS:
        missing = sorted(_FIELDS - keys)
        extra = sorted(keys - _FIELDS)
        problem = f"missing {missing}" if missing else ""
        problem += "; " if missing and extra else ""
        problem += f"unexpected {[key[:40] for key in extra]}" if extra else ""
        raise InvalidCommitError(f"commit fields do not match the schema: {problem}")
    return Commit(**value)
