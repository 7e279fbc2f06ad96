"""Signing and verification on both curves: compact, low-S, tamper-evident."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sonet.crypto import (
    InvalidKeyError,
    K256Keypair,
    Keypair,
    P256Keypair,
    generate_keypair,
    import_private_hex,
    import_private_multibase,
)

from .curves import CURVE_IDS, CURVES, K256_ORDER, P256_ORDER, flip_s


def _secrets(order: int) -> st.SearchStrategy[bytes]:
    return st.integers(min_value=1, max_value=order - 1).map(lambda n: n.to_bytes(32, "big"))


@settings(max_examples=50, deadline=None)
@given(secret=_secrets(K256_ORDER), msg=st.binary(max_size=512))
def test_k256_sign_verify_round_trip(secret: bytes, msg: bytes) -> None:
    keypair = K256Keypair.from_private_bytes(secret)
    sig = keypair.sign(msg)
    assert len(sig) == 64
    assert keypair.public_key().verify(msg, sig)
    assert not keypair.public_key().verify(msg + b"x", sig)


@settings(max_examples=50, deadline=None)
@given(secret=_secrets(P256_ORDER), msg=st.binary(max_size=512))
def test_p256_sign_verify_round_trip(secret: bytes, msg: bytes) -> None:
    keypair = P256Keypair.from_private_bytes(secret)
    sig = keypair.sign(msg)
    assert len(sig) == 64
    assert keypair.public_key().verify(msg, sig)
    assert not keypair.public_key().verify(msg + b"x", sig)


@pytest.mark.parametrize(("keypair_type", "order"), CURVES, ids=CURVE_IDS)
def test_a_thousand_signatures_are_all_low_s(keypair_type: type[Keypair], order: int) -> None:
    keypair = keypair_type.generate()
    public = keypair.public_key()
    for index in range(1000):
        msg = index.to_bytes(4, "big")
        sig = keypair.sign(msg)
        assert int.from_bytes(sig[32:], "big") <= order // 2
        assert public.verify(msg, sig)
        assert not public.verify(msg, flip_s(sig, order))


@pytest.mark.parametrize("keypair_type", [k for k, _ in CURVES], ids=CURVE_IDS)
def test_tampered_message_or_signature_fails(keypair_type: type[Keypair]) -> None:
    keypair = keypair_type.generate()
    public = keypair.public_key()
    msg = b"a commit to sign"
    sig = keypair.sign(msg)
    assert public.verify(msg, sig)
    assert not public.verify(b"a commit to sigN", sig)
    for index in (0, 31, 32, 63):
        tampered = bytearray(sig)
        tampered[index] ^= 0x01
        assert not public.verify(msg, bytes(tampered))
    assert not keypair_type.generate().public_key().verify(msg, sig)


@pytest.mark.parametrize(("keypair_type", "order"), CURVES, ids=CURVE_IDS)
@pytest.mark.parametrize(
    "bad_sig",
    [b"", b"\x00" * 63, b"\x00" * 65, b"\x00" * 64, "not bytes", None, bytearray(64)],
)
def test_malformed_signatures_return_false(
    keypair_type: type[Keypair], order: int, bad_sig: Any
) -> None:
    assert keypair_type.generate().public_key().verify(b"msg", bad_sig) is False


@pytest.mark.parametrize(("keypair_type", "order"), CURVES, ids=CURVE_IDS)
def test_out_of_range_r_or_s_returns_false(keypair_type: type[Keypair], order: int) -> None:
    keypair = keypair_type.generate()
    sig = keypair.sign(b"msg")
    over = order.to_bytes(32, "big")
    ones = b"\xff" * 32
    for bad in (over + sig[32:], sig[:32] + over, ones + sig[32:], sig[:32] + ones):
        assert keypair.public_key().verify(b"msg", bad) is False


@pytest.mark.parametrize("keypair_type", [k for k, _ in CURVES], ids=CURVE_IDS)
def test_non_bytes_message_returns_false(keypair_type: type[Keypair]) -> None:
    public = keypair_type.generate().public_key()
    bad_msg: Any = "text"
    assert public.verify(bad_msg, b"\x01" * 64) is False


@pytest.mark.parametrize("kind", ["k256", "p256"])
def test_generate_keypair_and_jwt_alg(kind: Any) -> None:
    keypair = generate_keypair(kind)
    assert keypair.jwt_alg == {"k256": "ES256K", "p256": "ES256"}[kind]
    assert keypair.public_key().jwt_alg == keypair.jwt_alg
    assert keypair.did().startswith({"k256": "did:key:zQ3s", "p256": "did:key:zDna"}[kind])


def test_generate_keypair_defaults_to_k256() -> None:
    assert isinstance(generate_keypair(), K256Keypair)


def test_generate_keypair_unknown_kind() -> None:
    bad: Any = "ed25519"
    with pytest.raises(InvalidKeyError):
        generate_keypair(bad)


@settings(max_examples=25, deadline=None)
@given(curve=st.sampled_from(list(zip(CURVE_IDS, CURVES, strict=True))), data=st.data())
def test_export_import_round_trip(
    curve: tuple[Any, tuple[type[Keypair], int]], data: st.DataObject
) -> None:
    kind, (keypair_type, order) = curve
    secret = data.draw(_secrets(order))
    keypair = keypair_type.from_private_bytes(secret)
    assert keypair.export_private_bytes() == secret
    from_hex = import_private_hex(keypair.export_private_hex(), kind)
    from_multibase = import_private_multibase(keypair.export_private_multibase())
    for copy in (from_hex, from_multibase):
        assert type(copy) is type(keypair)
        assert copy.did() == keypair.did()
        assert keypair.public_key().verify(b"m", copy.sign(b"m"))


@pytest.mark.parametrize("keypair_type", [k for k, _ in CURVES], ids=CURVE_IDS)
@pytest.mark.parametrize(
    "secret",
    [b"", b"\x01" * 31, b"\x01" * 33, b"\x00" * 32, b"\xff" * 32, "00" * 32],
)
def test_bad_private_keys_raise(keypair_type: type[Keypair], secret: Any) -> None:
    with pytest.raises(InvalidKeyError):
        keypair_type.from_private_bytes(secret)


@pytest.mark.parametrize("keypair_type", [k for k, _ in CURVES], ids=CURVE_IDS)
def test_private_key_equal_to_order_raises(keypair_type: type[Keypair]) -> None:
    order = dict(CURVES)[keypair_type]
    with pytest.raises(InvalidKeyError):
        keypair_type.from_private_bytes(order.to_bytes(32, "big"))


@pytest.mark.parametrize("text", ["zz", "xyz", "", "g" * 64])
def test_bad_private_hex_raises(text: str) -> None:
    with pytest.raises(InvalidKeyError):
        import_private_hex(text)


@pytest.mark.parametrize("text", ["", "z", "z0OIl", "mAAAA", "zQ3shokFTS3brHcDQrn82RUDfCZESWL1Zd"])
def test_bad_private_multibase_raises(text: str) -> None:
    with pytest.raises(InvalidKeyError):
        import_private_multibase(text)
