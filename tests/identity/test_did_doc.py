"""Parsing DID documents into their atproto view (https://atproto.com/specs/did)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sonet.crypto import K256Keypair, P256Keypair
from sonet.crypto.multibase import multibase_encode
from sonet.identity.did_doc import (
    parse_atproto_identity,
    service_endpoint,
    validate_did_doc,
    verification_key,
)
from sonet.identity.errors import DidDocumentError
from tests.identity.fixtures import plc_style_doc, random_plc_did

DID = random_plc_did()


def doc(**changes: Any) -> dict[str, Any]:
    base = plc_style_doc(DID)
    base.update(changes)
    return base


def test_plc_style_document() -> None:
    keypair = K256Keypair.generate()
    identity = parse_atproto_identity(plc_style_doc(DID, keypair=keypair), DID)
    assert identity.did == DID
    assert identity.handle == "alice.test"
    assert identity.signing_key == keypair.public_key()
    assert identity.pds_endpoint == "https://pds.example.com"
    assert identity.doc["id"] == DID


def test_did_web_style_document_with_relative_ids_and_p256() -> None:
    keypair = P256Keypair.generate()
    did = "did:web:example.com"
    raw = {
        "@context": "https://www.w3.org/ns/did/v1",
        "id": did,
        "alsoKnownAs": ["at://Example.COM"],
        "verificationMethod": [
            {
                "id": "#atproto",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": keypair.public_key().multibase(),
            }
        ],
        "service": [
            {
                "id": "#atproto_pds",
                "type": "AtprotoPersonalDataServer",
                "serviceEndpoint": "http://localhost:2583",
            }
        ],
    }
    identity = parse_atproto_identity(raw, did)
    assert identity.handle == "example.com"  # normalised to lowercase
    assert identity.signing_key == keypair.public_key()
    assert identity.pds_endpoint == "http://localhost:2583"


@pytest.mark.parametrize(
    ("key_type", "point"),
    [
        ("EcdsaSecp256k1VerificationKey2019", "uncompressed"),
        ("EcdsaSecp256k1VerificationKey2019", "compressed"),
        ("EcdsaSecp256r1VerificationKey2019", "uncompressed"),
    ],
)
def test_legacy_key_types(key_type: str, point: str) -> None:
    keypair = K256Keypair.generate() if "256k1" in key_type else P256Keypair.generate()
    pub = keypair.public_key()
    raw = doc()
    raw["verificationMethod"][0].update(
        type=key_type, publicKeyMultibase=multibase_encode(getattr(pub, point))
    )
    assert parse_atproto_identity(raw, DID).signing_key == pub


def test_minimal_document_has_no_atproto_data() -> None:
    identity = parse_atproto_identity({"id": DID}, DID)
    assert (identity.handle, identity.signing_key, identity.pds_endpoint) == (None, None, None)


def test_first_valid_handle_wins() -> None:
    raw = doc(
        alsoKnownAs=[
            "https://alice.example.com",
            "at://not_a_handle",
            "at://did:plc:abc",
            "at://bob.test",
            "at://carol.test",
        ]
    )
    assert parse_atproto_identity(raw, DID).handle == "bob.test"
    assert parse_atproto_identity(doc(alsoKnownAs=["at://x"]), DID).handle is None


def test_key_with_foreign_controller_is_skipped() -> None:
    raw = doc()
    good = copy.deepcopy(raw["verificationMethod"][0])
    raw["verificationMethod"][0]["controller"] = "did:plc:someoneelse234567abcdefg"
    assert parse_atproto_identity(raw, DID).signing_key is None
    raw["verificationMethod"].append(good)
    assert parse_atproto_identity(raw, DID).signing_key is not None


def test_other_fragments_are_reachable() -> None:
    labeler_key = K256Keypair.generate().public_key()
    raw = doc()
    raw["verificationMethod"].append(
        {
            "id": f"{DID}#atproto_label",
            "type": "Multikey",
            "controller": DID,
            "publicKeyMultibase": labeler_key.multibase(),
        }
    )
    raw["service"].append(
        {
            "id": "#atproto_labeler",
            "type": "AtprotoLabeler",
            "serviceEndpoint": "https://labeler.example.com",
        }
    )
    assert verification_key(raw, "#atproto_label") == labeler_key
    assert service_endpoint(raw, "#atproto_labeler", "AtprotoLabeler") == (
        "https://labeler.example.com"
    )
    assert service_endpoint(raw, "#atproto_labeler", "SomethingElse") is None
    assert service_endpoint(raw, "#bsky_fg", "BskyFeedGenerator") is None


def test_pds_of_wrong_type_is_absent() -> None:
    raw = doc()
    raw["service"][0]["type"] = "SomethingElse"
    assert parse_atproto_identity(raw, DID).pds_endpoint is None


def test_id_mismatch_rejected() -> None:
    with pytest.raises(DidDocumentError, match="not the requested DID"):
        parse_atproto_identity(plc_style_doc(random_plc_did()), DID)
    with pytest.raises(DidDocumentError):
        validate_did_doc(plc_style_doc(DID), "did:web:example.com")


def _set(path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    raw: Any = doc()
    target = raw
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return raw  # type: ignore[no-any-return]


MALFORMED: list[object] = [
    None,
    "a string",
    [plc_style_doc(DID)],
    {"alsoKnownAs": []},
    _set(("id",), 42),
    _set(("id",), "not a did"),
    _set(("@context",), {"a": 1}),
    _set(("alsoKnownAs",), "at://alice.test"),
    _set(("alsoKnownAs",), [1, 2]),
    _set(("verificationMethod",), {"id": "#atproto"}),
    _set(("verificationMethod",), ["#atproto"]),
    _set(("verificationMethod", 0, "id"), None),
    _set(("verificationMethod", 0, "type"), 7),
    _set(("verificationMethod", 0, "publicKeyMultibase"), "zNotBase58!!"),
    _set(("verificationMethod", 0, "publicKeyMultibase"), 123),
    _set(("verificationMethod", 0, "publicKeyMultibase"), "z" + "1" * 10),
    _set(("verificationMethod", 0, "type"), "JsonWebKey2020"),
    _set(("service",), None) | {"service": "x"},
    _set(("service", 0), "#atproto_pds"),
    _set(("service", 0, "type"), None),
    _set(("service", 0, "serviceEndpoint"), "ftp://pds.example.com"),
    _set(("service", 0, "serviceEndpoint"), "pds.example.com"),
    _set(("service", 0, "serviceEndpoint"), "https://user:pw@pds.example.com"),
    _set(("service", 0, "serviceEndpoint"), {"uri": "https://pds.example.com"}),
    _set(("service", 0, "serviceEndpoint"), "http://[::1"),
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_malformed_documents_raise_typed_errors(raw: object) -> None:
    with pytest.raises(DidDocumentError):
        parse_atproto_identity(raw, DID)


def test_missing_multibase_on_atproto_key() -> None:
    raw = doc()
    del raw["verificationMethod"][0]["publicKeyMultibase"]
    with pytest.raises(DidDocumentError, match="publicKeyMultibase"):
        parse_atproto_identity(raw, DID)
