"""Abstract public keys and key pairs shared by both curves.

https://atproto.com/specs/cryptography
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Final, Self

from sonet.crypto.errors import InvalidKeyError
from sonet.crypto.multibase import multibase_encode

DID_KEY_PREFIX: Final = "did:key:"
SIGNATURE_LENGTH: Final = 64
PRIVATE_KEY_LENGTH: Final = 32
COMPRESSED_LENGTH: Final = 33
UNCOMPRESSED_LENGTH: Final = 65


class PublicKey(ABC):
    """An ECDSA public key: verifies 64-byte compact, low-S signatures over SHA-256(msg).

    https://atproto.com/specs/cryptography#ecdsa-signature-malleability
    """

    jwt_alg: ClassVar[str]
    multicodec: ClassVar[bytes]
    curve: ClassVar[str]
    __slots__ = ("_compressed",)
    _compressed: bytes

    @classmethod
    def from_compressed(cls, data: bytes) -> Self:
        """Parse a 33-byte SEC1 compressed point (``0x02``/``0x03`` prefix)."""
        if len(data) != COMPRESSED_LENGTH or data[0] not in (2, 3):
            raise InvalidKeyError(
                f"{cls.curve} compressed public key must be 33 bytes, 0x02/0x03 first"
            )
        return cls._from_point(data)

    @classmethod
    def from_uncompressed(cls, data: bytes) -> Self:
        """Parse a 65-byte SEC1 uncompressed point (``0x04`` prefix)."""
        if len(data) != UNCOMPRESSED_LENGTH or data[0] != 4:
            raise InvalidKeyError(
                f"{cls.curve} uncompressed public key must be 65 bytes, 0x04 first"
            )
        return cls._from_point(data)

    @classmethod
    @abstractmethod
    def _from_point(cls, data: bytes) -> Self:
        """Load a SEC1 point of the right length and prefix; :class:`InvalidKeyError` if off-curve."""

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Parse a SEC1 point in either its compressed or its uncompressed form."""
        if len(data) == COMPRESSED_LENGTH:
            return cls.from_compressed(data)
        return cls.from_uncompressed(data)

    @property
    def compressed(self) -> bytes:
        """The 33-byte SEC1 compressed point."""
        return self._compressed

    @property
    @abstractmethod
    def uncompressed(self) -> bytes:
        """The 65-byte SEC1 uncompressed point (``0x04 || x || y``)."""

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """True only for a valid 64-byte compact low-S signature of SHA-256(msg); never raises."""
        if not isinstance(sig, bytes) or len(sig) != SIGNATURE_LENGTH:
            return False
        return self._verify_compact(msg, sig)

    @abstractmethod
    def _verify_compact(self, msg: bytes, sig: bytes) -> bool:
        """:meth:`verify` for a ``sig`` already known to be 64 bytes."""

    def multibase(self) -> str:
        """``publicKeyMultibase`` of a ``Multikey`` verification method.

        https://atproto.com/specs/cryptography#public-key-encoding
        """
        return multibase_encode(self.multicodec + self.compressed)

    def did(self) -> str:
        """The ``did:key`` form of this key."""
        return DID_KEY_PREFIX + self.multibase()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicKey):
            return NotImplemented
        return self.jwt_alg == other.jwt_alg and self.compressed == other.compressed

    def __hash__(self) -> int:
        return hash((self.jwt_alg, self.compressed))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.did()!r})"


class Keypair(ABC):
    """A private signing key that always emits 64-byte compact low-S signatures."""

    jwt_alg: ClassVar[str]
    private_multicodec: ClassVar[bytes]
    __slots__ = ()

    @classmethod
    @abstractmethod
    def generate(cls) -> Self:
        """A fresh random key pair."""

    @classmethod
    @abstractmethod
    def from_private_bytes(cls, secret: bytes) -> Self:
        """Load a 32-byte big-endian private scalar; :class:`InvalidKeyError` if out of range."""

    @classmethod
    def from_private_hex(cls, secret_hex: str) -> Self:
        """Load a private key written as 64 hex digits."""
        try:
            secret = bytes.fromhex(secret_hex)
        except (ValueError, TypeError) as exc:
            raise InvalidKeyError(f"private key is not hex: {exc}") from None
        return cls.from_private_bytes(secret)

    @abstractmethod
    def public_key(self) -> PublicKey:
        """The matching public key."""

    @abstractmethod
    def sign(self, msg: bytes) -> bytes:
        """ECDSA over SHA-256(msg): a 64-byte compact ``r || s`` signature with low S."""

    @abstractmethod
    def export_private_bytes(self) -> bytes:
        """The 32-byte big-endian private scalar."""

    def export_private_hex(self) -> str:
        """The private scalar as 64 lowercase hex digits."""
        return self.export_private_bytes().hex()

    def export_private_multibase(self) -> str:
        """Multibase (base58btc) of the private-key multicodec prefix and the scalar."""
        return multibase_encode(self.private_multicodec + self.export_private_bytes())

    def did(self) -> str:
        """The ``did:key`` of the public key."""
        return self.public_key().did()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.did()!r})"


def check_private_length(secret: bytes) -> None:
    """Raise :class:`InvalidKeyError` unless ``secret`` is exactly 32 bytes."""
    if not isinstance(secret, bytes | bytearray) or len(secret) != PRIVATE_KEY_LENGTH:
        raise InvalidKeyError(f"private key must be {PRIVATE_KEY_LENGTH} bytes")
