"""Signed commits: sign/verify on both curves, tampering, malleability, strict decoding."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from sonet.crypto import Keypair, generate_keypair
from sonet.repo.cbor import decode, encode
from sonet.repo.cid import CID, cid_for_cbor, cid_for_raw
from sonet.repo.commit import (
    MAX_COMMIT_SIZE,
    Commit,
    InvalidCommitError,
    decode_commit,
    sign_commit,
    verify_commit,
)
from tests.crypto.curves import CURVE_IDS, CURVES, flip_s

DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
REV = "3l3qo2vutsw2b"
DATA = cid_for_cbor(encode({"e": [], "l": None}))
PREV = cid_for_cbor(encode({"prev": 1}))


@pytest.fixture(params=CURVES, ids=CURVE_IDS)
def keypair(request: pytest.FixtureRequest) -> Keypair:
    key_type: type[Keypair] = request.param[0]
    return key_type.generate()


@pytest.fixture
def commit(keypair: Keypair) -> Commit:
    return sign_commit(DID, DATA, REV, keypair)


def commit_map(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "did": DID,
        "version": 3,
        "data": DATA,
        "rev": REV,
        "prev": None,
        "sig": b"\x01" * 64,
    }
    value.update(changes)
    return value


def test_sign_and_verify(keypair: Keypair, commit: Commit) -> None:
    assert commit.version == 3
    assert commit.prev is None
    assert not commit.is_legacy
    assert len(commit.sig) == 64
    assert verify_commit(commit, keypair.public_key())


def test_signature_covers_unsigned_bytes(keypair: Keypair, commit: Commit) -> None:
    unsigned = decode(commit.unsigned_bytes())
    assert unsigned == {"did": DID, "version": 3, "data": DATA, "rev": REV, "prev": None}
    assert keypair.public_key().verify(commit.unsigned_bytes(), commit.sig)


def test_block_round_trip(commit: Commit) -> None:
    cid, block = commit.to_block()
    assert cid == cid_for_cbor(block)
    assert decode(block) == {**decode(commit.unsigned_bytes()), "sig": commit.sig}
    assert decode_commit(block) == commit
    assert decode_commit(block).to_block() == (cid, block)


def test_prev_is_kept_and_signed(keypair: Keypair) -> None:
    commit = sign_commit(DID, DATA, REV, keypair, prev=PREV)
    assert decode_commit(commit.to_block()[1]).prev == PREV
    assert verify_commit(commit, keypair.public_key())
    assert not verify_commit(dataclasses.replace(commit, prev=None), keypair.public_key())


def test_prev_null_is_present_in_block(commit: Commit) -> None:
    assert "prev" in decode(commit.to_block()[1])


def test_wrong_key_fails(commit: Commit) -> None:
    assert not verify_commit(commit, generate_keypair("k256").public_key())
    assert not verify_commit(commit, generate_keypair("p256").public_key())


@pytest.mark.parametrize(
    "changes",
    [
        {"did": "did:plc:ewvi7nxzyoun6zhxrhs64oia"},
        {"data": PREV},
        {"rev": "3l3qo2vutsw2c"},
        {"prev": PREV},
        {"version": 2},
    ],
    ids=["did", "data", "rev", "prev", "version"],
)
def test_tampered_fields_fail(keypair: Keypair, commit: Commit, changes: dict[str, Any]) -> None:
    tampered = dataclasses.replace(commit, **changes)
    assert not verify_commit(tampered, keypair.public_key())


def test_tampered_signature_fails(keypair: Keypair, commit: Commit) -> None:
    for index in (0, 31, 32, 63):
        sig = bytearray(commit.sig)
        sig[index] ^= 0x01
        tampered = dataclasses.replace(commit, sig=bytes(sig))
        assert not verify_commit(tampered, keypair.public_key())


@pytest.mark.parametrize(("key_type", "order"), CURVES, ids=CURVE_IDS)
def test_high_s_signature_rejected(key_type: type[Keypair], order: int) -> None:
    keypair = key_type.generate()
    commit = sign_commit(DID, DATA, REV, keypair)
    high_s = flip_s(commit.sig, order)
    # The twin is a valid ECDSA signature (plain ECDSA accepts it) ...
    curve = ec.SECP256K1() if key_type.jwt_alg == "ES256K" else ec.SECP256R1()
    verifier = ec.EllipticCurvePublicKey.from_encoded_point(curve, keypair.public_key().compressed)
    der = encode_dss_signature(
        int.from_bytes(high_s[:32], "big"), int.from_bytes(high_s[32:], "big")
    )
    verifier.verify(der, commit.unsigned_bytes(), ec.ECDSA(hashes.SHA256()))
    # ... but atproto requires low-S, so the commit does not verify.
    assert not verify_commit(dataclasses.replace(commit, sig=high_s), keypair.public_key())


def test_decoded_tampered_block_fails(keypair: Keypair, commit: Commit) -> None:
    value = decode(commit.to_block()[1])
    value["rev"] = "3l3qo2vutsw2z"
    assert not verify_commit(decode_commit(encode(value)), keypair.public_key())


def test_legacy_v2_commit_decodes(keypair: Keypair) -> None:
    block = encode(commit_map(version=2, rev="not-a-tid", prev=PREV))
    commit = decode_commit(block)
    assert commit.is_legacy
    assert commit.version == 2
    assert commit.to_block()[1] == block


def test_sign_commit_validates_its_inputs(keypair: Keypair) -> None:
    with pytest.raises(InvalidCommitError, match="did"):
        sign_commit("alice", DATA, REV, keypair)
    with pytest.raises(InvalidCommitError, match="TID"):
        sign_commit(DID, DATA, "1", keypair)
    with pytest.raises(InvalidCommitError, match="data"):
        sign_commit(DID, cid_for_raw(b"x"), REV, keypair)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (commit_map(did=7), "did"),
        (commit_map(did="alice"), "did"),
        (commit_map(did="did:plc:" + "a" * 3000), "did"),
        (commit_map(version=4), "version"),
        (commit_map(version=1), "version"),
        (commit_map(version="3"), "version"),
        (commit_map(version=True), "version"),
        (commit_map(version=None), "version"),
        (commit_map(data=DATA.encode()), "data"),
        (commit_map(data=None), "data"),
        (commit_map(data=cid_for_raw(b"x")), "data"),
        (commit_map(data=b"\x01" * 36), "data"),
        (commit_map(rev=5), "rev"),
        (commit_map(rev=None), "rev"),
        (commit_map(rev="3L3QO2VUTSW2B"), "TID"),
        (commit_map(prev="bafy"), "prev"),
        (commit_map(prev=b"\x00"), "prev"),
        (commit_map(prev=CID(b"\x01\x71\x13\x20" + b"\x00" * 32)), "prev"),
        (commit_map(sig=b"\x01" * 63), "sig"),
        (commit_map(sig=b"\x01" * 65), "sig"),
        (commit_map(sig="\x01" * 64), "sig"),
        (commit_map(sig=None), "sig"),
        (commit_map(extra=1), "unexpected \\['extra'\\]"),
        ({k: v for k, v in commit_map().items() if k != "prev"}, "missing \\['prev'\\]"),
        ({k: v for k, v in commit_map().items() if k != "sig"}, "missing \\['sig'\\]"),
        ({"did": DID}, "missing"),
        ({}, "missing"),
        ([DID, 3], "must be a map"),
        ("commit", "must be a map"),
        (None, "must be a map"),
    ],
)
def test_decode_rejects_malformed_commits(value: object, message: str) -> None:
    with pytest.raises(InvalidCommitError, match=message):
        decode_commit(encode(value))


def test_decode_rejects_bad_cbor() -> None:
    with pytest.raises(InvalidCommitError, match="DAG-CBOR"):
        decode_commit(b"")
    with pytest.raises(InvalidCommitError, match="DAG-CBOR"):
        decode_commit(b"\xa1\x63did")
    with pytest.raises(InvalidCommitError, match="DAG-CBOR"):
        decode_commit(encode(commit_map()) + b"\x00")


def test_decode_rejects_oversize_block() -> None:
    with pytest.raises(InvalidCommitError):
        decode_commit(encode(commit_map(pad="x" * MAX_COMMIT_SIZE)))


def test_direct_construction_is_validated() -> None:
    with pytest.raises(InvalidCommitError, match="sig"):
        Commit(DID, 3, DATA, REV, None, b"short")
