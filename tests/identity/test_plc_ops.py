"""did:plc operation building, bytes, DIDs, signatures and DID documents."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from sonet.crypto import generate_keypair, parse_did_key
from sonet.identity.plc_document import format_did_doc
from sonet.identity.plc_errors import InvalidSignatureError
from sonet.identity.plc_ops import (
    DocumentData,
    Operation,
    create_atproto_op,
    decode_sig,
    did_for_genesis,
    encode_sig,
    ensure_atproto_prefix,
    ensure_http_prefix,
    normalize_op,
    op_cbor,
    op_cid,
    op_to_data,
    sign_legacy_create,
    tombstone_op,
    unsigned_cbor,
    update_operation,
)
from sonet.repo.cbor import decode
from sonet.repo.cid import parse_cid

ROTATION = generate_keypair("k256")
RECOVERY = generate_keypair("p256")
SIGNING = generate_keypair("k256")


def genesis() -> tuple[str, Operation]:
    did, op = create_atproto_op(
        signing_key=SIGNING.did(),
        handle="alice.test",
        pds_endpoint="pds.example.com",
        rotation_keys=[RECOVERY.did(), ROTATION.did()],
        signer=ROTATION,
    )
    return did, op


def test_genesis_fields_and_did() -> None:
    did, op = genesis()
    assert op["type"] == "plc_operation"
    assert op["prev"] is None and "prev" in op
    assert op["alsoKnownAs"] == ["at://alice.test"]
    assert op["services"] == {
        "atproto_pds": {"type": "AtprotoPersonalDataServer", "endpoint": "https://pds.example.com"}
    }
    assert re.fullmatch(r"did:plc:[a-z2-7]{24}", did)
    digest = base64.b32encode(hashlib.sha256(op_cbor(op)).digest()).decode().lower()
    assert did == "did:plc:" + digest[:24]
    assert did_for_genesis(op) == did


def test_signature_covers_the_op_without_sig() -> None:
    _, op = genesis()
    assert "sig" not in decode(unsigned_cbor(op))
    assert decode(op_cbor(op))["sig"] == op["sig"]
    assert ROTATION.public_key().verify(unsigned_cbor(op), decode_sig(op["sig"]))


def test_prev_is_the_string_cid_of_the_previous_op() -> None:
    _, op = genesis()
    update = update_operation(normalize_op(op), ROTATION, handle="bob.test")
    assert update["prev"] == op_cid(op)
    assert isinstance(decode(op_cbor(update))["prev"], str)
    assert str(parse_cid(op_cid(op)).encode()) == op_cid(op)


def test_update_replaces_only_the_given_fields() -> None:
    _, op = genesis()
    base = normalize_op(op)
    new_key = generate_keypair("p256").did()
    up = update_operation(base, ROTATION, signing_key=new_key, pds_endpoint="https://pds2.test")
    assert up["verificationMethods"] == {"atproto": new_key}
    assert up["services"]["atproto_pds"]["endpoint"] == "https://pds2.test"
    assert up["alsoKnownAs"] == base["alsoKnownAs"]
    assert up["rotationKeys"] == base["rotationKeys"]


def test_update_handle_keeps_other_aliases() -> None:
    _, op = genesis()
    base = normalize_op(op)
    base["alsoKnownAs"] = ["https://example.com/me", "at://old.test", "at://other.test"]
    up = update_operation(base, ROTATION, handle="new.test")
    assert up["alsoKnownAs"] == ["https://example.com/me", "at://new.test", "at://other.test"]
    base["alsoKnownAs"] = ["https://example.com/me"]
    up = update_operation(base, ROTATION, handle="new.test")
    assert up["alsoKnownAs"] == ["at://new.test", "https://example.com/me"]


def test_tombstone() -> None:
    _, op = genesis()
    tomb = tombstone_op(op_cid(op), ROTATION)
    assert set(tomb) == {"type", "prev", "sig"}
    assert ROTATION.public_key().verify(unsigned_cbor(tomb), decode_sig(tomb["sig"]))
    assert op_to_data("did:plc:x", tomb) is None


def test_legacy_create_normalises() -> None:
    legacy = sign_legacy_create(
        {
            "type": "create",
            "signingKey": SIGNING.did(),
            "recoveryKey": RECOVERY.did(),
            "handle": "https://legacy.test",
            "service": "pds.test",
            "prev": None,
        },
        SIGNING,
    )
    regular = normalize_op(legacy)
    assert regular["rotationKeys"] == [RECOVERY.did(), SIGNING.did()]
    assert regular["verificationMethods"] == {"atproto": SIGNING.did()}
    assert regular["alsoKnownAs"] == ["at://legacy.test"]
    assert regular["services"]["atproto_pds"]["endpoint"] == "https://pds.test"
    assert regular["sig"] == legacy["sig"]
    assert did_for_genesis(legacy) != did_for_genesis(regular)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://a.test", "https://a.test"),
        ("http://a.test", "http://a.test"),
        ("a.test", "https://a.test"),
    ],
)
def test_http_prefix(value: str, expected: str) -> None:
    assert ensure_http_prefix(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("at://a.test", "at://a.test"), ("a.test", "at://a.test"), ("https://a.test", "at://a.test")],
)
def test_atproto_prefix(value: str, expected: str) -> None:
    assert ensure_atproto_prefix(value) == expected


def test_sig_encoding_is_strict() -> None:
    raw = bytes(range(64))
    text = encode_sig(raw)
    assert len(text) == 86 and "=" not in text
    assert decode_sig(text) == raw
    for bad in (
        text + "==",
        text[:-1],
        text[:-1] + "B",  # non-zero trailing bits
        text.replace(text[0], "+", 1),
        text[:-2] + "==",
        None,
        "!" * 86,
    ):
        with pytest.raises(InvalidSignatureError):
            decode_sig(bad)


def test_did_document() -> None:
    p256, k256 = generate_keypair("p256"), generate_keypair("k256")
    data: DocumentData = {
        "did": "did:plc:7iza6de2dwap2sbkpav7c6c6",
        "verificationMethods": {
            "atproto": p256.did(),
            "other": k256.did(),
            "ed": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        },
        "rotationKeys": [k256.did()],
        "alsoKnownAs": ["at://alice.test"],
        "services": {
            "atproto_pds": {"type": "AtprotoPersonalDataServer", "endpoint": "https://pds.test"}
        },
    }
    doc = format_did_doc(data)
    assert doc["@context"] == [
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/multikey/v1",
        "https://w3id.org/security/suites/ecdsa-2019/v1",
        "https://w3id.org/security/suites/secp256k1-2019/v1",
    ]
    assert doc["id"] == data["did"]
    assert doc["alsoKnownAs"] == ["at://alice.test"]
    assert doc["verificationMethod"][0] == {
        "id": "did:plc:7iza6de2dwap2sbkpav7c6c6#atproto",
        "type": "Multikey",
        "controller": "did:plc:7iza6de2dwap2sbkpav7c6c6",
        "publicKeyMultibase": p256.public_key().multibase(),
    }
    assert doc["verificationMethod"][2]["publicKeyMultibase"].startswith("z6Mk")
    assert doc["service"] == [
        {
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": "https://pds.test",
        }
    ]
    assert parse_did_key("did:key:" + doc["verificationMethod"][1]["publicKeyMultibase"]) == (
        k256.public_key()
    )
