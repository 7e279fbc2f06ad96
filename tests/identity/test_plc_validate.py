"""Single-operation checks: shape, directory limits and signatures."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sonet.crypto import generate_keypair
from sonet.identity.plc_errors import (
    ImproperOperationError,
    InvalidSignatureError,
    OperationLimitError,
    PlcError,
)
from sonet.identity.plc_ops import (
    Operation,
    create_atproto_op,
    decode_sig,
    encode_sig,
    sign_operation,
    tombstone_op,
)
from sonet.identity.plc_validate import (
    PlcLimits,
    assert_valid_incoming_op,
    parse_operation,
    verify_op_signature,
)

LIMITS = PlcLimits()
ROTATION = generate_keypair("k256")
P256 = generate_keypair("p256")
K256_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ED25519_DID_KEY = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def op(**changes: Any) -> dict[str, Any]:
    """A valid genesis op with ``changes`` applied to its unsigned fields, re-signed."""
    _, base = create_atproto_op(
        signing_key=ROTATION.did(),
        handle="alice.test",
        pds_endpoint="https://pds.test",
        rotation_keys=[ROTATION.did()],
        signer=ROTATION,
    )
    unsigned = {k: v for k, v in base.items() if k != "sig"}
    unsigned.update(changes)
    return dict(sign_operation(unsigned, ROTATION))  # type: ignore[arg-type]


def high_s(signed: Operation | dict[str, Any], order: int) -> dict[str, Any]:
    raw = decode_sig(signed["sig"])
    s = int.from_bytes(raw[32:], "big")
    return {**signed, "sig": encode_sig(raw[:32] + (order - s).to_bytes(32, "big"))}


def test_valid_op_and_tombstone_pass() -> None:
    assert assert_valid_incoming_op(op(), LIMITS)["type"] == "plc_operation"
    tomb = tombstone_op("bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm", ROTATION)
    assert assert_valid_incoming_op(dict(tomb), LIMITS)["type"] == "plc_tombstone"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: o.pop("prev"),
        lambda o: o.pop("sig"),
        lambda o: o.pop("services"),
        lambda o: o.update(extra=1),
        lambda o: o.update(type="plc_update"),
        lambda o: o.update(rotationKeys="did:key:z"),
        lambda o: o.update(rotationKeys=[1]),
        lambda o: o.update(alsoKnownAs=[None]),
        lambda o: o.update(verificationMethods={"atproto": 5}),
        lambda o: o.update(verificationMethods=["x"]),
        lambda o: o.update(services={"atproto_pds": {"type": "x"}}),
        lambda o: o.update(services={"atproto_pds": {"type": "x", "endpoint": "y", "z": "w"}}),
        lambda o: o.update(services={"atproto_pds": "https://pds.test"}),
        lambda o: o.update(prev=5),
        lambda o: o.update(sig=None),
    ],
)
def test_malformed_shapes(mutate: Any) -> None:
    bad = op()
    mutate(bad)
    with pytest.raises(ImproperOperationError):
        assert_valid_incoming_op(bad, LIMITS)


@pytest.mark.parametrize("value", [None, [], "op", 5])
def test_not_an_object(value: object) -> None:
    with pytest.raises(ImproperOperationError):
        parse_operation(value)


def test_tombstone_shape() -> None:
    with pytest.raises(ImproperOperationError):
        parse_operation({"type": "plc_tombstone", "prev": None, "sig": "x"})
    with pytest.raises(ImproperOperationError):
        parse_operation({"type": "plc_tombstone", "prev": "b", "sig": "x", "handle": "h"})


def test_legacy_create_only_in_logs() -> None:
    legacy = {
        "type": "create",
        "signingKey": ROTATION.did(),
        "recoveryKey": ROTATION.did(),
        "handle": "a.test",
        "service": "https://pds.test",
        "prev": None,
        "sig": "x",
    }
    assert parse_operation(legacy)["type"] == "create"
    with pytest.raises(ImproperOperationError):
        assert_valid_incoming_op(legacy, LIMITS)
    with pytest.raises(ImproperOperationError):
        parse_operation({**legacy, "prev": "bafy"})


def keys(n: int) -> list[str]:
    return [generate_keypair().did() for _ in range(n)]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"rotationKeys": keys(6)}, OperationLimitError),
        ({"rotationKeys": []}, OperationLimitError),
        ({"rotationKeys": [ROTATION.did(), ROTATION.did()]}, ImproperOperationError),
        ({"rotationKeys": [ED25519_DID_KEY]}, ImproperOperationError),
        ({"rotationKeys": ["did:key:zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSX"]}, PlcError),
        ({"rotationKeys": ["did:web:example.com"]}, ImproperOperationError),
        ({"alsoKnownAs": [f"at://{i}.test" for i in range(11)]}, OperationLimitError),
        ({"alsoKnownAs": ["at://" + "a" * 254]}, OperationLimitError),
        ({"alsoKnownAs": ["at://a.test", "at://a.test"]}, ImproperOperationError),
        (
            {"services": {f"s{i}": {"type": "t", "endpoint": "e"} for i in range(11)}},
            OperationLimitError,
        ),
        ({"services": {"s" * 33: {"type": "t", "endpoint": "e"}}}, OperationLimitError),
        ({"services": {"s": {"type": "t" * 257, "endpoint": "e"}}}, OperationLimitError),
        ({"services": {"s": {"type": "t", "endpoint": "e" * 513}}}, OperationLimitError),
        (
            {"verificationMethods": {f"k{i}": ROTATION.did() for i in range(11)}},
            OperationLimitError,
        ),
        ({"verificationMethods": {"k" * 33: ROTATION.did()}}, OperationLimitError),
        ({"verificationMethods": {"atproto": "did:key:z" + "a" * 250}}, OperationLimitError),
        (
            {"verificationMethods": {"atproto": "zQ3shXjHeiBuRCKmM36cuYnm7YEM"}},
            ImproperOperationError,
        ),
        ({"verificationMethods": {"atproto": "did:key:mAAAA"}}, ImproperOperationError),
        ({"verificationMethods": {"atproto": "did:key:z0OIl"}}, ImproperOperationError),
        ({"verificationMethods": {"atproto": "did:key:z"}}, ImproperOperationError),
    ],
)
def test_limits(changes: dict[str, Any], error: type[PlcError]) -> None:
    with pytest.raises(error):
        assert_valid_incoming_op(op(**changes), LIMITS)


def test_limits_at_their_maximum_pass() -> None:
    assert_valid_incoming_op(
        op(
            rotationKeys=keys(5),
            alsoKnownAs=["at://" + "a" * 253, *(f"at://{i}.test" for i in range(9))],
            services={"s" * 32: {"type": "t" * 256, "endpoint": "e" * 512}},
        ),
        LIMITS,
    )


def test_any_did_key_type_may_be_a_verification_method() -> None:
    assert_valid_incoming_op(op(verificationMethods={"ed": ED25519_DID_KEY}), LIMITS)


def test_oversize_op() -> None:
    big = op(services={f"s{i}": {"type": "t" * 200, "endpoint": "e" * 500} for i in range(6)})
    with pytest.raises(OperationLimitError, match="too large"):
        assert_valid_incoming_op(big, LIMITS)
    assert_valid_incoming_op(big, PlcLimits(max_op_bytes=8000))


def test_signature_by_a_rotation_key() -> None:
    signed = op(rotationKeys=[P256.did(), ROTATION.did()])
    parsed = parse_operation(signed)
    assert verify_op_signature([P256.did(), ROTATION.did()], parsed) == ROTATION.did()


def test_forged_signature() -> None:
    signed = parse_operation(op())
    with pytest.raises(InvalidSignatureError):
        verify_op_signature([P256.did(), generate_keypair().did()], signed)
    with pytest.raises(InvalidSignatureError):
        verify_op_signature([], signed)


def test_tampered_op_fails() -> None:
    signed = op()
    tampered = copy.deepcopy(signed)
    tampered["alsoKnownAs"] = ["at://mallory.test"]
    with pytest.raises(InvalidSignatureError):
        verify_op_signature([ROTATION.did()], parse_operation(tampered))


@pytest.mark.parametrize(("curve", "order"), [("k256", K256_ORDER), ("p256", P256_ORDER)])
def test_high_s_rejected(curve: str, order: int) -> None:
    key = generate_keypair(curve)  # type: ignore[arg-type]
    _, good = create_atproto_op(
        signing_key=key.did(),
        handle="a.test",
        pds_endpoint="https://pds.test",
        rotation_keys=[key.did()],
        signer=key,
    )
    assert verify_op_signature([key.did()], good) == key.did()
    with pytest.raises(InvalidSignatureError):
        verify_op_signature([key.did()], parse_operation(high_s(good, order)))


def test_unusable_keys_are_skipped() -> None:
    signed = parse_operation(op())
    assert verify_op_signature(["did:key:zbad", ED25519_DID_KEY, ROTATION.did()], signed)


@pytest.mark.parametrize("sig", ["", "a" * 86 + "==", "a" * 88, "a" * 85 + "B"])
def test_malformed_sig(sig: str) -> None:
    with pytest.raises(InvalidSignatureError):
        verify_op_signature([ROTATION.did()], parse_operation({**op(), "sig": sig}))
