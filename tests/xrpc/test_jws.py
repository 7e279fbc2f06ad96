"""Splitting compact JWS tokens strictly."""

from __future__ import annotations

import pytest

from sonet.xrpc.jws import (
    MalformedJwtError,
    b64url_decode,
    b64url_encode,
    decode_unverified_claims,
    split_jws,
)


def test_split() -> None:
    header, claims = b64url_encode(b'{"alg":"x"}'), b64url_encode(b'{"a":1}')
    token = f"{header}.{claims}.{b64url_encode(b'sig')}"
    jws = split_jws(token)
    assert (jws.header, jws.claims, jws.signature) == ({"alg": "x"}, {"a": 1}, b"sig")
    assert jws.signing_input == token.rsplit(".", 1)[0].encode()
    assert decode_unverified_claims(token) == {"a": 1}
    assert decode_unverified_claims("nope") is None


@pytest.mark.parametrize("text", ["YQ==", "a+b/", "a b", "a", "\u00e9"])
def test_strict_base64url(text: str) -> None:
    with pytest.raises(MalformedJwtError):
        b64url_decode(text)


def test_round_trip() -> None:
    for size in range(10):
        data = bytes(range(250, 250 - size, -1))
        assert b64url_decode(b64url_encode(data)) == data


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        f"{b64url_encode(b'[]')}.{b64url_encode(b'{}')}.",
        f"{b64url_encode(b'{}')}.{b64url_encode(b'nul')}.",
    ],
)
def test_malformed(token: str) -> None:
    with pytest.raises(MalformedJwtError):
        split_jws(token)
