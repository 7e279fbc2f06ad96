"""NIST P-256 ("p256", JWT ``ES256``) keys on ``cryptography`` (OpenSSL).

OpenSSL neither emits nor demands low-S signatures, so signing folds S into the lower
half of the group order and verification refuses the upper half itself:
https://atproto.com/specs/cryptography#ecdsa-signature-malleability
"""

from __future__ import annotations

from typing import ClassVar, Final, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sonet.crypto.errors import InvalidKeyError
from sonet.crypto.keys import (
    Keypair,
    PublicKey,
    check_private_length,
)
from sonet.crypto.multibase import P256_PRIV, P256_PUB

CURVE_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
HALF_ORDER: Final = CURVE_ORDER // 2
_CURVE: Final = ec.SECP256R1()
_ECDSA_SHA256: Final = ec.ECDSA(hashes.SHA256())


class P256PublicKey(PublicKey):
    """A NIST P-256 public key."""

    jwt_alg: ClassVar[str] = "ES256"
    multicodec: ClassVar[bytes] = P256_PUB
    curve: ClassVar[str] = "p256"
    __slots__ = ("_key",)

    def __init__(self, key: ec.EllipticCurvePublicKey) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise InvalidKeyError(f"expected a P-256 key, got {key.curve.name}")
        self._key = key
        self._compressed = key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)

    @classmethod
    def _from_point(cls, data: bytes) -> Self:
        try:
            return cls(ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, bytes(data)))
        except ValueError:
            raise InvalidKeyError("not a point on the P-256 curve") from None

    @property
    def uncompressed(self) -> bytes:
        return self._key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def _verify_compact(self, msg: bytes, sig: bytes) -> bool:
        r = int.from_bytes(sig[:32], "big")
        s = int.from_bytes(sig[32:], "big")
        if not (0 < r < CURVE_ORDER and 0 < s <= HALF_ORDER):
            return False
        try:
            self._key.verify(encode_dss_signature(r, s), msg, _ECDSA_SHA256)
        except (InvalidSignature, TypeError):
            return False
        return True


class P256Keypair(Keypair):
    """A NIST P-256 private key."""

    jwt_alg: ClassVar[str] = "ES256"
    private_multicodec: ClassVar[bytes] = P256_PRIV
    __slots__ = ("_key", "_public")

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise InvalidKeyError(f"expected a P-256 key, got {key.curve.name}")
        self._key = key
        self._public = P256PublicKey(key.public_key())

    @classmethod
    def generate(cls) -> Self:
        return cls(ec.generate_private_key(_CURVE))

    @classmethod
    def from_private_bytes(cls, secret: bytes) -> Self:
        check_private_length(secret)
        scalar = int.from_bytes(secret, "big")
        if not 0 < scalar < CURVE_ORDER:
            raise InvalidKeyError("private key is outside the P-256 scalar range")
        return cls(ec.derive_private_key(scalar, _CURVE))

    def public_key(self) -> P256PublicKey:
        return self._public

    def sign(self, msg: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(msg, _ECDSA_SHA256))
        if s > HALF_ORDER:
            s = CURVE_ORDER - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def export_private_bytes(self) -> bytes:
        return self._key.private_numbers().private_value.to_bytes(32, "big")
