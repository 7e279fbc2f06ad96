"""The atproto interop crypto vectors (https://atproto.com/specs/cryptography)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from sonet.crypto import (
    P256Keypair,
    b58decode,
    import_private_hex,
    parse_did_doc_key,
    parse_did_key,
    verify_signature,
)


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _load(interop: Path, name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((interop / "crypto" / name).read_text())
    assert data
    return data


def test_signature_fixtures(interop: Path) -> None:
    for case in _load(interop, "signature-fixtures.json"):
        msg, sig = _b64(case["messageBase64"]), _b64(case["signatureBase64"])
        did_key = parse_did_key(case["publicKeyDid"])
        doc_key = parse_did_doc_key(case["didDocSuite"], case["publicKeyMultibase"])
        assert did_key == doc_key, case["comment"]
        assert did_key.jwt_alg == case["algorithm"], case["comment"]
        assert did_key.did() == case["publicKeyDid"]
        expected = case["validSignature"]
        assert did_key.verify(msg, sig) is expected, case["comment"]
        assert doc_key.verify(msg, sig) is expected, case["comment"]
        assert verify_signature(case["publicKeyDid"], msg, sig) is expected, case["comment"]


def test_signature_fixtures_cover_high_s_and_der(interop: Path) -> None:
    tags = {tag for case in _load(interop, "signature-fixtures.json") for tag in case["tags"]}
    assert {"high-s", "der-encoded"} <= tags


def test_w3c_didkey_k256(interop: Path) -> None:
    for case in _load(interop, "w3c_didkey_K256.json"):
        keypair = import_private_hex(case["privateKeyBytesHex"], "k256")
        assert keypair.did() == case["publicDidKey"]
        assert parse_did_key(case["publicDidKey"]) == keypair.public_key()


def test_w3c_didkey_p256(interop: Path) -> None:
    for case in _load(interop, "w3c_didkey_P256.json"):
        keypair = P256Keypair.from_private_bytes(b58decode(case["privateKeyBytesBase58"]))
        assert keypair.did() == case["publicDidKey"]
        assert parse_did_key(case["publicDidKey"]) == keypair.public_key()


@pytest.mark.parametrize("name", ["w3c_didkey_K256.json", "w3c_didkey_P256.json"])
def test_w3c_didkey_round_trips_through_format(interop: Path, name: str) -> None:
    for case in _load(interop, name):
        assert parse_did_key(case["publicDidKey"]).did() == case["publicDidKey"]
