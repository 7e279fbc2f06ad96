"""Key pairs, signatures and ``did:key`` (https://atproto.com/specs/cryptography)."""

from sonet.crypto.didkey import (
    decode_did_key,
    format_did_key,
    parse_did_doc_key,
    parse_did_key,
    parse_multikey,
    verify_signature,
)
from sonet.crypto.errors import CryptoError, InvalidKeyError, MultibaseError
from sonet.crypto.k256 import K256Keypair, K256PublicKey
from sonet.crypto.keypairs import (
    KeypairKind,
    generate_keypair,
    import_private_hex,
    import_private_multibase,
)
from sonet.crypto.keys import Keypair, PublicKey
from sonet.crypto.multibase import b58decode, b58encode, multibase_decode, multibase_encode
from sonet.crypto.p256 import P256Keypair, P256PublicKey

__all__ = [
    "CryptoError",
    "InvalidKeyError",
    "K256Keypair",
    "K256PublicKey",
    "Keypair",
    "KeypairKind",
    "MultibaseError",
    "P256Keypair",
    "P256PublicKey",
    "PublicKey",
    "b58decode",
    "b58encode",
    "decode_did_key",
    "format_did_key",
    "generate_keypair",
    "import_private_hex",
    "import_private_multibase",
    "multibase_decode",
    "multibase_encode",
    "parse_did_doc_key",
    "parse_did_key",
    "parse_multikey",
    "verify_signature",
]
