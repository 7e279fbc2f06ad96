"""Session access and refresh JWTs: claims, typ headers, expiry, forgery and scopes."""

from __future__ import annotations

import base64
import time
from typing import Any

import jwt
import orjson
import pytest

from sonet.xrpc import AuthRequiredError, AuthScope, InvalidRequestError, SessionTokens
from sonet.xrpc.tokens import ACCESS_FULL, ACCESS_PRIVILEGED, ACCESS_STANDARD
from tests.xrpc.toy import ALICE, SECRET, SERVICE_DID

tokens = SessionTokens(SECRET, SERVICE_DID)


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header = jwt.get_unverified_header(token)
    return header, jwt.decode(token, options={"verify_signature": False})


def expect(exc: pytest.ExceptionInfo[InvalidRequestError], error: str, message: str) -> None:
    assert exc.value.status == 400
    assert exc.value.error == error
    assert exc.value.message == message


def signed(claims: dict[str, Any], typ: str = "at+jwt", secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers={"typ": typ})


def base_claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "scope": "com.atproto.access",
        "sub": ALICE,
        "aud": SERVICE_DID,
        "iat": now,
        "exp": now + 3600,  # parametrized claims are built at collection time
        **extra,
    }


def test_access_token_claims() -> None:
    token = tokens.create_access(ALICE)
    header, claims = unverified(token)
    assert header == {"alg": "HS256", "typ": "at+jwt"}
    assert claims["scope"] == "com.atproto.access"
    assert claims["sub"] == ALICE
    assert claims["aud"] == SERVICE_DID
    assert claims["exp"] - claims["iat"] == 2 * 3600
    verified = tokens.verify_access(token)
    assert (verified.did, verified.scope, verified.audience) == (
        ALICE,
        AuthScope.ACCESS,
        SERVICE_DID,
    )
    assert verified.token_id is None


def test_refresh_token_claims() -> None:
    token = tokens.create_refresh(ALICE)
    header, claims = unverified(token)
    assert header == {"alg": "HS256", "typ": "refresh+jwt"}
    assert claims["scope"] == "com.atproto.refresh"
    assert claims["exp"] - claims["iat"] == 90 * 24 * 3600
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 32
    verified = tokens.verify_refresh(token)
    assert verified.token_id == claims["jti"]
    assert tokens.verify_refresh(tokens.create_refresh(ALICE, token_id="abc")).token_id == "abc"


def test_app_password_scopes() -> None:
    app_pass = tokens.create_access(ALICE, AuthScope.APP_PASS)
    privileged = tokens.create_access(ALICE, AuthScope.APP_PASS_PRIVILEGED)
    assert tokens.verify_access(app_pass, ACCESS_STANDARD).scope is AuthScope.APP_PASS
    assert (
        tokens.verify_access(privileged, ACCESS_PRIVILEGED).scope is AuthScope.APP_PASS_PRIVILEGED
    )
    with pytest.raises(InvalidRequestError) as exc:
        tokens.verify_access(app_pass, ACCESS_PRIVILEGED)
    expect(exc, "InvalidToken", "Bad token scope")
    with pytest.raises(InvalidRequestError) as exc:
        tokens.verify_access(privileged, ACCESS_FULL)
    expect(exc, "InvalidToken", "Bad token scope")


def test_access_token_can_not_carry_refresh_scope() -> None:
    with pytest.raises(ValueError):
        tokens.create_access(ALICE, AuthScope.REFRESH)
    with pytest.raises(ValueError):
        SessionTokens("", SERVICE_DID)


def test_expired_tokens() -> None:
    past = SessionTokens(SECRET, SERVICE_DID, clock=lambda: time.time() - 3 * 3600)
    with pytest.raises(InvalidRequestError) as exc:
        tokens.verify_access(past.create_access(ALICE))
    expect(exc, "ExpiredToken", "Token has expired")
    old_refresh = past.create_refresh(ALICE, expires_in=60)
    with pytest.raises(InvalidRequestError) as exc:
        tokens.verify_refresh(old_refresh)
    expect(exc, "ExpiredToken", "Token has expired")
    assert tokens.verify_refresh(old_refresh, allow_expired=True).did == ALICE


def test_forged_and_tampered_tokens() -> None:
    forged = SessionTokens("another-secret-of-the-same-length-xxxxxxxxx", SERVICE_DID)
    with pytest.raises(InvalidRequestError) as exc:
        tokens.verify_access(forged.create_access(ALICE))
    expect(exc, "InvalidToken", "Token could not be verified")

    header, payload, signature = tokens.create_access(ALICE).split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "did:plc:mallory234567abcdefghijk"
    evil = base64.urlsafe_b64encode(orjson.dumps(claims)).decode().rstrip("=")
    with pytest.raises(InvalidRequestError) as exc:
        tokens.verify_access(f"{header}.{evil}.{signature}")
    expect(exc, "InvalidToken", "Token could not be verified")


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "a.b"])
def test_garbage_tokens(token: str) -> None:
    with pytest.raises(InvalidRequestError) as exc:
        tokens.verify_access(token)
    expect(exc, "InvalidToken", "Token could not be verified")


def test_unsigned_token_is_refused() -> None:
    token = jwt.encode(base_claims(), "", algorithm="none", headers={"typ": "at+jwt"})
    with pytest.raises(InvalidRequestError) as exc:
        tokens.verify_access(token)
    expect(exc, "InvalidToken", "Token could not be verified")


def test_typ_separates_access_and_refresh() -> None:
    with pytest.raises(InvalidRequestError) as exc:
        tokens.verify_access(tokens.create_refresh(ALICE))
    expect(exc, "InvalidToken", "Token could not be verified")
    with pytest.raises(InvalidRequestError) as exc:
        tokens.verify_refresh(tokens.create_access(ALICE))
    expect(exc, "InvalidToken", "Token could not be verified")
    with pytest.raises(InvalidRequestError):
        tokens.verify_access(signed(base_claims(), typ="JWT"))


def test_wrong_audience() -> None:
    other = SessionTokens(SECRET, "did:web:elsewhere.test")
    with pytest.raises(InvalidRequestError) as exc:
        tokens.verify_access(other.create_access(ALICE))
    expect(exc, "InvalidToken", "Token could not be verified")
    accepted = tokens.verify_access(
        other.create_access(ALICE), audience=("did:web:elsewhere.test",)
    )
    assert accepted.audience == "did:web:elsewhere.test"


@pytest.mark.parametrize(
    "claims",
    [
        base_claims(lxm="com.atproto.repo.createRecord"),
        base_claims(cnf={"jkt": "x"}),
        base_claims(sub="not-a-did"),
        base_claims(jti=5),
    ],
)
def test_malformed_claims(claims: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError) as exc:
        tokens.verify_access(signed(claims))
    expect(exc, "InvalidToken", "Malformed token")


def test_unknown_scope() -> None:
    with pytest.raises(InvalidRequestError) as exc:
        tokens.verify_access(signed(base_claims(scope="com.atproto.everything")))
    expect(exc, "InvalidToken", "Bad token scope")


def test_token_without_expiry() -> None:
    claims = base_claims()
    del claims["exp"]
    with pytest.raises(InvalidRequestError) as exc:
        tokens.verify_access(signed(claims))
    expect(exc, "InvalidToken", "Token could not be verified")


def test_refresh_token_needs_an_id() -> None:
    token = signed(base_claims(scope="com.atproto.refresh"), typ="refresh+jwt")
    with pytest.raises(AuthRequiredError) as exc:
        tokens.verify_refresh(token)
    assert (exc.value.status, exc.value.error) == (401, "MissingTokenId")


def test_not_yet_valid_token() -> None:
    with pytest.raises(InvalidRequestError) as exc:
        tokens.verify_access(signed(base_claims(nbf=int(time.time()) + 600)))
    expect(exc, "InvalidToken", "Token could not be verified")
    assert tokens.verify_access(signed(base_claims(nbf=int(time.time()) - 5))).did == ALICE


def test_other_algorithms_are_refused() -> None:
    token = jwt.encode(base_claims(), SECRET, algorithm="HS512", headers={"typ": "at+jwt"})
    with pytest.raises(InvalidRequestError) as exc:
        tokens.verify_access(token)
    expect(exc, "InvalidToken", "Token could not be verified")
