"""base58btc, multibase and multicodec varints (https://atproto.com/specs/cryptography)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sonet.crypto import MultibaseError, b58decode, b58encode, multibase_decode, multibase_encode
from sonet.crypto.multibase import P256_PUB, SECP256K1_PUB, decode_varint, encode_varint

# draft-msporny-base58 test vectors.
VECTORS = [
    (b"Hello World!", "2NEpo7TZRRrLZSi2U"),
    (
        b"The quick brown fox jumps over the lazy dog.",
        "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z",
    ),
    (bytes.fromhex("0000287fb4cd"), "11233QC4"),
    (b"", ""),
    (b"\x00", "1"),
]


@pytest.mark.parametrize(("raw", "text"), VECTORS)
def test_base58_vectors(raw: bytes, text: str) -> None:
    assert b58encode(raw) == text
    assert b58decode(text) == raw


@given(st.binary(max_size=80))
def test_base58_round_trip(data: bytes) -> None:
    assert b58decode(b58encode(data)) == data
    assert multibase_decode(multibase_encode(data)) == data


@pytest.mark.parametrize("text", ["0", "O", "I", "l", "abc+", "ζ"])
def test_base58_rejects_foreign_characters(text: str) -> None:
    with pytest.raises(MultibaseError):
        b58decode(text)


@pytest.mark.parametrize("text", ["", "Q3sh", "mAAAA", "fdeadbeef"])
def test_multibase_requires_base58btc(text: str) -> None:
    with pytest.raises(MultibaseError):
        multibase_decode(text)


def test_multicodec_prefixes() -> None:
    assert bytes([0xE7, 0x01]) == SECP256K1_PUB
    assert bytes([0x80, 0x24]) == P256_PUB


@given(st.integers(min_value=0, max_value=2**63 - 1), st.binary(max_size=4))
def test_varint_round_trip(value: int, tail: bytes) -> None:
    encoded = encode_varint(value)
    assert decode_varint(encoded + tail) == (value, len(encoded))


@pytest.mark.parametrize("data", [b"", b"\x80", b"\xff" * 10, b"\x80\x00"])
def test_bad_varints_raise(data: bytes) -> None:
    with pytest.raises(MultibaseError):
        decode_varint(data)


def test_negative_varint_raises() -> None:
    with pytest.raises(MultibaseError):
        encode_varint(-1)
