"""secp256k1 ("k256", JWT ``ES256K``) keys on libsecp256k1 through coincurve.

https://atproto.com/specs/cryptography
"""

from __future__ import annotations

import hashlib
from typing import ClassVar, Final, Self

import coincurve
from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT

from sonet.crypto.errors import InvalidKeyError
from sonet.crypto.keys import (
    SIGNATURE_LENGTH,
    Keypair,
    PublicKey,
    check_private_length,
)
from sonet.crypto.multibase import SECP256K1_PRIV, SECP256K1_PUB

_CTX: Final = GLOBAL_CONTEXT.ctx


class K256PublicKey(PublicKey):
    """A secp256k1 public key."""

    jwt_alg: ClassVar[str] = "ES256K"
    multicodec: ClassVar[bytes] = SECP256K1_PUB
    curve: ClassVar[str] = "k256"
    __slots__ = ("_key",)

    def __init__(self, key: coincurve.PublicKey) -> None:
        self._key = key
        self._compressed = key.format(compressed=True)

    @classmethod
    def _from_point(cls, data: bytes) -> Self:
        try:
            return cls(coincurve.PublicKey(bytes(data)))
        except ValueError:
            raise InvalidKeyError("not a point on the secp256k1 curve") from None

    @property
    def uncompressed(self) -> bytes:
        data: bytes = self._key.format(compressed=False)
        return data

    def _verify_compact(self, msg: bytes, sig: bytes) -> bool:
        """libsecp256k1 itself refuses high-S signatures, as atproto requires."""
        try:
            digest = hashlib.sha256(msg).digest()
        except TypeError:
            return False
        parsed = ffi.new("secp256k1_ecdsa_signature *")
        if not lib.secp256k1_ecdsa_signature_parse_compact(_CTX, parsed, sig):
            return False
        return bool(lib.secp256k1_ecdsa_verify(_CTX, parsed, digest, self._key.public_key))


class K256Keypair(Keypair):
    """A secp256k1 private key; libsecp256k1 signs with RFC 6979 nonces and low S."""

    jwt_alg: ClassVar[str] = "ES256K"
    private_multicodec: ClassVar[bytes] = SECP256K1_PRIV
    __slots__ = ("_key", "_public")

    def __init__(self, key: coincurve.PrivateKey) -> None:
        self._key = key
        self._public = K256PublicKey(key.public_key)

    @classmethod
    def generate(cls) -> Self:
        return cls(coincurve.PrivateKey())

    @classmethod
    def from_private_bytes(cls, secret: bytes) -> Self:
        check_private_length(secret)
        try:
            return cls(coincurve.PrivateKey(bytes(secret)))
        except ValueError:
            raise InvalidKeyError("private key is outside the secp256k1 scalar range") from None

    def public_key(self) -> K256PublicKey:
        return self._public

    def sign(self, msg: bytes) -> bytes:
        digest = hashlib.sha256(msg).digest()
        signature = ffi.new("secp256k1_ecdsa_signature *")
        if not lib.secp256k1_ecdsa_sign(
            _CTX, signature, digest, self._key.secret, ffi.NULL, ffi.NULL
        ):
            raise InvalidKeyError("libsecp256k1 refused to sign with this key")
        compact = ffi.new("unsigned char[64]")
        lib.secp256k1_ecdsa_signature_serialize_compact(_CTX, compact, signature)
        return bytes(ffi.buffer(compact, SIGNATURE_LENGTH))

    def export_private_bytes(self) -> bytes:
        secret: bytes = self._key.secret
        return secret
