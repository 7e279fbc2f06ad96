"""Legacy session tokens: HS256 access and refresh JWTs signed with a server secret.

https://atproto.com/specs/xrpc#authentication: ``createSession`` hands out a short-lived access
JWT and a long-lived refresh JWT, told apart by their ``typ`` header (``at+jwt`` and
``refresh+jwt``). Their claims follow the reference PDS: ``scope`` (``com.atproto.access``, the
app-password scopes or ``com.atproto.refresh``), ``sub`` (the account DID), ``aud`` (the service
DID), ``iat``, ``exp`` and, for refresh tokens, ``jti``. Verification failures answer 400
``ExpiredToken`` or 400 ``InvalidToken``, as the reference does. Tokens are signed with pyjwt;
they are verified on every request, so that is done directly with :mod:`hmac` (about 10x faster
than pyjwt's decoder).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import jwt

from sonet.syntax.did import is_valid_did
from sonet.xrpc.errors import AuthRequiredError, InvalidRequestError
from sonet.xrpc.jws import MalformedJwtError, split_jws

__all__ = [
    "ACCESS_FULL",
    "ACCESS_PRIVILEGED",
    "ACCESS_STANDARD",
    "ACCESS_TOKEN_TTL",
    "ACCESS_TYP",
    "REFRESH_TOKEN_TTL",
    "REFRESH_TYP",
    "AuthScope",
    "SessionToken",
    "SessionTokens",
]

ACCESS_TYP: Final = "at+jwt"
REFRESH_TYP: Final = "refresh+jwt"
ACCESS_TOKEN_TTL: Final = 120 * 60
"""Lifetime of an access token in seconds (the reference's 120 minutes)."""
REFRESH_TOKEN_TTL: Final = 90 * 24 * 3600
"""Lifetime of a refresh token in seconds (90 days)."""
_ALGORITHM: Final = "HS256"


class AuthScope(StrEnum):
    """The ``scope`` claim of a session token."""

    ACCESS = "com.atproto.access"
    REFRESH = "com.atproto.refresh"
    APP_PASS = "com.atproto.appPass"
    APP_PASS_PRIVILEGED = "com.atproto.appPassPrivileged"
    SIGNUP_QUEUED = "com.atproto.signupQueued"
    TAKENDOWN = "com.atproto.takendown"


ACCESS_FULL: Final = (AuthScope.ACCESS,)
"""Full-password sessions only (account deletion, app-password management)."""
ACCESS_PRIVILEGED: Final = (*ACCESS_FULL, AuthScope.APP_PASS_PRIVILEGED)
"""Also privileged app passwords (direct messages)."""
ACCESS_STANDARD: Final = (*ACCESS_PRIVILEGED, AuthScope.APP_PASS)
"""Every ordinary session."""

SIGNED_CACHE_SIZE: Final = 4096
_EXPIRED = "Token has expired"
_UNVERIFIED = "Token could not be verified"
_MALFORMED = "Malformed token"


@dataclass(frozen=True, slots=True)
class SessionToken:
    """The verified claims of a session token."""

    did: str
    scope: AuthScope
    audience: str
    issued_at: int | None
    expires_at: int
    token_id: str | None


def new_token_id() -> str:
    """A fresh random refresh-token id (``jti``)."""
    return secrets.token_urlsafe(32)


class SessionTokens:
    """Creates and verifies the session tokens of the service ``service_did``."""

    def __init__(
        self, secret: str | bytes, service_did: str, clock: Callable[[], float] = time.time
    ) -> None:
        if not secret:
            raise ValueError("the session token secret must not be empty")
        self._key = secret.encode() if isinstance(secret, str) else bytes(secret)
        self.service_did = service_did
        self._clock = clock
        self._signed: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        """Header and claims of tokens whose signature checked out: a client sends the same
        access token with every request, so parsing and the HMAC are done once per token
        (times, type, audience and scope are still checked on every use)."""

    def _sign(self, claims: dict[str, Any], typ: str, expires_in: float) -> str:
        now = int(self._clock())
        claims.update(aud=self.service_did, iat=now, exp=now + int(expires_in))
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM, headers={"typ": typ})

    def create_access(
        self, did: str, scope: AuthScope = AuthScope.ACCESS, expires_in: float = ACCESS_TOKEN_TTL
    ) -> str:
        """An access token (``typ`` ``at+jwt``) for ``did`` with ``scope``."""
        if scope is AuthScope.REFRESH:
            raise ValueError("an access token can not have the refresh scope")
        return self._sign({"scope": scope.value, "sub": did}, ACCESS_TYP, expires_in)

    def create_refresh(
        self, did: str, token_id: str | None = None, expires_in: float = REFRESH_TOKEN_TTL
    ) -> str:
        """A refresh token (``typ`` ``refresh+jwt``) for ``did``, identified by ``token_id``
        (random by default)."""
        claims = {"scope": AuthScope.REFRESH.value, "sub": did, "jti": token_id or new_token_id()}
        return self._sign(claims, REFRESH_TYP, expires_in)

    def verify_access(
        self,
        token: str,
        scopes: Collection[AuthScope] = ACCESS_STANDARD,
        audience: Collection[str] | None = None,
    ) -> SessionToken:
        """Verify an access token and require one of ``scopes``."""
        return self._verify(token, ACCESS_TYP, scopes, audience, allow_expired=False)

    def verify_refresh(
        self, token: str, audience: Collection[str] | None = None, allow_expired: bool = False
    ) -> SessionToken:
        """Verify a refresh token; it must carry a ``jti``."""
        verified = self._verify(token, REFRESH_TYP, (AuthScope.REFRESH,), audience, allow_expired)
        if verified.token_id is None:
            raise AuthRequiredError("Unexpected missing refresh token id", "MissingTokenId")
        return verified

    def _verify(
        self,
        token: str,
        typ: str,
        scopes: Collection[AuthScope],
        audience: Collection[str] | None,
        allow_expired: bool,
    ) -> SessionToken:
        signed = self._signed.get(token)
        if signed is None:
            signed = self._check_signature(token)
            if len(self._signed) >= SIGNED_CACHE_SIZE:
                self._signed.clear()
            self._signed[token] = signed
        header, claims = signed
        if _is_immature(claims.get("nbf"), self._clock()):
            raise InvalidRequestError(_UNVERIFIED, "InvalidToken")
        expected_audience = (self.service_did,) if audience is None else audience
        if header.get("typ") != typ or claims.get("aud") not in expected_audience:
            raise InvalidRequestError(_UNVERIFIED, "InvalidToken")
        exp = claims.get("exp")
        if type(exp) is not int:
            raise InvalidRequestError(_UNVERIFIED, "InvalidToken")
        if not allow_expired and exp <= self._clock():
            raise InvalidRequestError(_EXPIRED, "ExpiredToken")
        return _session_token(claims, exp, scopes)

    def _check_signature(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            jws = split_jws(token)
        except MalformedJwtError:
            raise InvalidRequestError(_UNVERIFIED, "InvalidToken") from None
        expected = hmac.new(self._key, jws.signing_input, hashlib.sha256).digest()
        if jws.header.get("alg") != _ALGORITHM or not hmac.compare_digest(expected, jws.signature):
            raise InvalidRequestError(_UNVERIFIED, "InvalidToken")
        return jws.header, jws.claims


def _is_immature(nbf: object, now: float) -> bool:
    """A token used before its ``nbf`` (or with a malformed one) is refused."""
    if nbf is None:
        return False
    return not isinstance(nbf, int | float) or isinstance(nbf, bool) or nbf > now


def _session_token(claims: dict[str, Any], exp: int, scopes: Collection[AuthScope]) -> SessionToken:
    """Check the claims the way the reference PDS does after the signature and times."""
    sub, aud, jti, iat = claims.get("sub"), claims.get("aud"), claims.get("jti"), claims.get("iat")
    if "lxm" in claims or "cnf" in claims:
        raise InvalidRequestError(_MALFORMED, "InvalidToken")
    if not isinstance(sub, str) or not is_valid_did(sub):
        raise InvalidRequestError(_MALFORMED, "InvalidToken")
    if not isinstance(aud, str) or not aud.startswith("did:"):
        raise InvalidRequestError(_MALFORMED, "InvalidToken")
    if jti is not None and not isinstance(jti, str):
        raise InvalidRequestError(_MALFORMED, "InvalidToken")
    try:
        scope = AuthScope(str(claims.get("scope")))
    except ValueError:
        raise InvalidRequestError("Bad token scope", "InvalidToken") from None
    if scope not in scopes:
        raise InvalidRequestError("Bad token scope", "InvalidToken")
    return SessionToken(sub, scope, aud, iat if type(iat) is int else None, exp, jti)
