"""Choosing, generating and importing key pairs of either curve.

https://atproto.com/specs/cryptography
"""

from __future__ import annotations

from typing import Final, Literal

from sonet.crypto.errors import InvalidKeyError, MultibaseError
from sonet.crypto.k256 import K256Keypair
from sonet.crypto.keys import Keypair
from sonet.crypto.multibase import multibase_decode
from sonet.crypto.p256 import P256Keypair

KeypairKind = Literal["k256", "p256"]
KEYPAIR_TYPES: Final[dict[str, type[Keypair]]] = {"k256": K256Keypair, "p256": P256Keypair}


def keypair_type(kind: KeypairKind) -> type[Keypair]:
    """The key-pair class of a curve name; :class:`InvalidKeyError` for another name."""
    try:
        return KEYPAIR_TYPES[kind]
    except (KeyError, TypeError):
        raise InvalidKeyError(f"unknown key kind {kind!r}; expected 'k256' or 'p256'") from None


def generate_keypair(kind: KeypairKind = "k256") -> Keypair:
    """A fresh key pair; k256 by default, as the reference implementation does."""
    return keypair_type(kind).generate()


def import_private_hex(secret_hex: str, kind: KeypairKind = "k256") -> Keypair:
    """Load a hex private key of the given curve."""
    return keypair_type(kind).from_private_hex(secret_hex)


def import_private_multibase(text: str) -> Keypair:
    """Load the output of :meth:`Keypair.export_private_multibase`; the codec names the curve."""
    if not isinstance(text, str):
        raise InvalidKeyError(f"expected a multibase string, got {type(text).__name__}")
    try:
        data = multibase_decode(text)
    except MultibaseError as exc:
        raise InvalidKeyError(f"bad multibase private key: {exc}") from None
    for key_type in KEYPAIR_TYPES.values():
        if data.startswith(key_type.private_multicodec):
            return key_type.from_private_bytes(data[len(key_type.private_multicodec) :])
    raise InvalidKeyError(f"unsupported private-key codec: {data[:2].hex()}")
