"""``did:key`` and multikey public keys, and the legacy DID-document key forms.

https://atproto.com/specs/cryptography#public-key-encoding
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from sonet.crypto.errors import InvalidKeyError, MultibaseError
from sonet.crypto.k256 import K256PublicKey
from sonet.crypto.keys import COMPRESSED_LENGTH, DID_KEY_PREFIX, PublicKey
from sonet.crypto.multibase import multibase_decode
from sonet.crypto.p256 import P256PublicKey

PUBLIC_KEY_TYPES: Final[tuple[type[PublicKey], ...]] = (K256PublicKey, P256PublicKey)
LEGACY_DID_DOC_KEY_TYPES: Final[dict[str, type[PublicKey]]] = {
    "EcdsaSecp256k1VerificationKey2019": K256PublicKey,
    "EcdsaSecp256r1VerificationKey2019": P256PublicKey,
}
MULTIKEY_TYPE: Final = "Multikey"
DID_KEY_CACHE_SIZE: Final = 32768


def _decode_multibase_key(multibase: object) -> bytes:
    if not isinstance(multibase, str):
        raise InvalidKeyError(f"expected a multibase string, got {type(multibase).__name__}")
    try:
        return multibase_decode(multibase)
    except MultibaseError as exc:
        raise InvalidKeyError(f"bad multibase key {multibase[:24]!r}: {exc}") from None


def parse_multikey(multibase: str) -> PublicKey:
    """Parse ``'z' + base58btc(multicodec varint + compressed point)``."""
    data = _decode_multibase_key(multibase)
    for key_type in PUBLIC_KEY_TYPES:
        if data.startswith(key_type.multicodec):
            point = data[len(key_type.multicodec) :]
            if len(point) != COMPRESSED_LENGTH:
                raise InvalidKeyError("a multikey must hold a 33-byte compressed point")
            return key_type.from_compressed(point)
    raise InvalidKeyError(f"unsupported multikey codec: {data[:2].hex()}")


def decode_did_key(did: str) -> PublicKey:
    """Parse a ``did:key`` without the cache of :func:`parse_did_key`."""
    if not isinstance(did, str) or not did.startswith(DID_KEY_PREFIX):
        raise InvalidKeyError(f"not a did:key: {str(did)[:40]!r}")
    return parse_multikey(did[len(DID_KEY_PREFIX) :])


_decode_did_key_cached = lru_cache(maxsize=DID_KEY_CACHE_SIZE)(decode_did_key)


def parse_did_key(did: str) -> PublicKey:
    """Parse a ``did:key`` (k256 or p256), remembering the most recent keys."""
    if not isinstance(did, str):
        raise InvalidKeyError(f"expected a did:key string, got {type(did).__name__}")
    return _decode_did_key_cached(did)


def format_did_key(pub: PublicKey) -> str:
    """The ``did:key`` of a public key."""
    return pub.did()


def parse_did_doc_key(key_type: str, multibase: str) -> PublicKey:
    """Parse a DID-document verification method's ``type`` and ``publicKeyMultibase``.

    ``Multikey`` carries a multicodec-prefixed compressed point; the legacy
    ``EcdsaSecp256{k,r}1VerificationKey2019`` types carry the bare point, compressed
    or uncompressed, with no multicodec prefix.
    https://atproto.com/specs/did and https://atproto.com/specs/cryptography
    """
    if key_type == MULTIKEY_TYPE:
        return parse_multikey(multibase)
    legacy = LEGACY_DID_DOC_KEY_TYPES.get(key_type) if isinstance(key_type, str) else None
    if legacy is None:
        raise InvalidKeyError(f"unsupported verification method type: {key_type!r}")
    return legacy.from_bytes(_decode_multibase_key(multibase))


def verify_signature(did_key: str, msg: bytes, sig: bytes) -> bool:
    """Verify ``sig`` over ``msg`` with a ``did:key``.

    Returns False for any bad signature; raises :class:`InvalidKeyError` for a bad key.
    """
    return parse_did_key(did_key).verify(msg, sig)
