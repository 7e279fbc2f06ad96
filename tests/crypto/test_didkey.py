"""did:key, multikey and DID-document key parsing (https://atproto.com/specs/cryptography)."""

from __future__ import annotations

from typing import Any

import pytest

from sonet.crypto import (
    InvalidKeyError,
    K256Keypair,
    K256PublicKey,
    Keypair,
    P256Keypair,
    P256PublicKey,
    decode_did_key,
    format_did_key,
    multibase_encode,
    parse_did_doc_key,
    parse_did_key,
    parse_multikey,
    verify_signature,
)

from .curves import CURVE_IDS, CURVES

K256_DID = "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"
P256_DID = "did:key:zDnaembgSGUhZULN2Caob4HLJPaxBh92N7rtH21TErzqf8HQo"
KEYPAIR_TYPES = [k for k, _ in CURVES]
LEGACY_TYPES = {
    K256Keypair: "EcdsaSecp256k1VerificationKey2019",
    P256Keypair: "EcdsaSecp256r1VerificationKey2019",
}


def test_did_key_prefixes_name_the_curve() -> None:
    assert isinstance(parse_did_key(K256_DID), K256PublicKey)
    assert isinstance(parse_did_key(P256_DID), P256PublicKey)


@pytest.mark.parametrize("keypair_type", KEYPAIR_TYPES, ids=CURVE_IDS)
def test_did_key_round_trip(keypair_type: type[Keypair]) -> None:
    public = keypair_type.generate().public_key()
    did = format_did_key(public)
    assert did == public.did() == "did:key:" + public.multibase()
    assert parse_did_key(did) == public
    assert decode_did_key(did) == public
    assert parse_multikey(public.multibase()) == public
    assert parse_did_doc_key("Multikey", public.multibase()) == public


@pytest.mark.parametrize("keypair_type", KEYPAIR_TYPES, ids=CURVE_IDS)
def test_compressed_and_uncompressed_forms(keypair_type: type[Keypair]) -> None:
    public = keypair_type.generate().public_key()
    assert len(public.compressed) == 33
    assert len(public.uncompressed) == 65
    cls = type(public)
    assert cls.from_compressed(public.compressed) == public
    assert cls.from_uncompressed(public.uncompressed) == public
    assert cls.from_bytes(public.uncompressed) == public
    with pytest.raises(InvalidKeyError):
        cls.from_compressed(public.uncompressed)
    with pytest.raises(InvalidKeyError):
        cls.from_uncompressed(public.compressed)


@pytest.mark.parametrize("keypair_type", KEYPAIR_TYPES, ids=CURVE_IDS)
def test_legacy_did_doc_keys_compressed_or_uncompressed(keypair_type: type[Keypair]) -> None:
    public = keypair_type.generate().public_key()
    suite = LEGACY_TYPES[keypair_type]
    assert parse_did_doc_key(suite, multibase_encode(public.compressed)) == public
    assert parse_did_doc_key(suite, multibase_encode(public.uncompressed)) == public


@pytest.mark.parametrize(
    ("suite", "multibase"),
    [
        ("JsonWebKey2020", "zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"),
        ("EcdsaSecp256k1VerificationKey2019", "zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"),
        ("EcdsaSecp256k1VerificationKey2019", "z"),
        ("EcdsaSecp256r1VerificationKey2019", "not multibase"),
        ("Multikey", "z25z9DTpsiYYJKGsWmSPJK2NFN8PcJtZig12K59UgW7q5t"),
    ],
)
def test_bad_did_doc_keys_raise(suite: str, multibase: str) -> None:
    with pytest.raises(InvalidKeyError):
        parse_did_doc_key(suite, multibase)


def _garbage() -> list[Any]:
    k256_body = K256_DID.removeprefix("did:key:")
    return [
        "",
        "did:key:",
        "did:key:z",
        "did:key:zzzz",
        "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
        k256_body,
        "did:key:" + k256_body[:-1],
        "did:key:" + k256_body + "1",
        "did:key:" + k256_body.replace("z", "m", 1),
        "did:key:z0OIl",
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",  # ed25519
        "did:key:" + multibase_encode(bytes([0xE7, 0x01]) + b"\x05" + b"\x00" * 32),
        "did:key:" + multibase_encode(bytes([0x80, 0x24]) + b"\x02" + b"\xff" * 32),
        "did:key:" + multibase_encode(bytes([0xE7, 0x01]) + b"\x04" + b"\x01" * 64),
        "did:key:ζ",
        None,
        42,
        b"did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",
        ["did:key"],
    ]


@pytest.mark.parametrize("garbage", _garbage())
def test_garbage_did_keys_raise_invalid_key_error(garbage: Any) -> None:
    with pytest.raises(InvalidKeyError):
        parse_did_key(garbage)
    with pytest.raises(InvalidKeyError):
        decode_did_key(garbage)


@pytest.mark.parametrize("garbage", [None, 7, "", "m" + "A" * 40])
def test_garbage_multikeys_raise(garbage: Any) -> None:
    with pytest.raises(InvalidKeyError):
        parse_multikey(garbage)


def test_parse_did_key_is_cached() -> None:
    assert parse_did_key(K256_DID) is parse_did_key(K256_DID)


@pytest.mark.parametrize("keypair_type", KEYPAIR_TYPES, ids=CURVE_IDS)
def test_verify_signature_with_did_key(keypair_type: type[Keypair]) -> None:
    keypair = keypair_type.generate()
    sig = keypair.sign(b"payload")
    assert verify_signature(keypair.did(), b"payload", sig)
    assert not verify_signature(keypair.did(), b"payload!", sig)
    with pytest.raises(InvalidKeyError):
        verify_signature("did:key:zzz", b"payload", sig)


def test_keys_compare_and_hash_by_curve_and_point() -> None:
    k256 = parse_did_key(K256_DID)
    assert k256 == decode_did_key(K256_DID)
    assert hash(k256) == hash(decode_did_key(K256_DID))
    assert k256 != parse_did_key(P256_DID)
    assert k256 != "not a key"
    assert K256_DID in repr(k256)
