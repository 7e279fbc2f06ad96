"""Authenticating XRPC calls: session bearer tokens, service JWTs and the admin password.

https://atproto.com/specs/xrpc#authentication: ``Authorization: Bearer <jwt>`` carries a session
access or refresh token (:mod:`sonet.xrpc.tokens`) or an inter-service JWT
(:mod:`sonet.xrpc.service_jwt`); https://atproto.com/specs/xrpc#admin-token-temporary-specification:
admin calls use HTTP Basic with user ``admin``. Each method of :class:`AuthVerifiers` builds an
``auth=`` verifier for :class:`~sonet.xrpc.router.XrpcRouter` routes; the error names and
statuses are those of the reference PDS.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from aiohttp import web

from sonet.xrpc.context import AuthVerifier, HandlerContext
from sonet.xrpc.errors import AuthRequiredError, InvalidRequestError
from sonet.xrpc.jws import decode_unverified_claims
from sonet.xrpc.service_jwt import KeyResolver, verify_service_jwt
from sonet.xrpc.tokens import ACCESS_STANDARD, AuthScope, SessionTokens

__all__ = [
    "AccessCredentials",
    "AdminCredentials",
    "AuthScheme",
    "AuthVerifiers",
    "RefreshCredentials",
    "ServiceCredentials",
    "basic_credentials",
    "bearer_token",
    "mark_private",
    "parse_authorization",
]

_T = TypeVar("_T")


class AuthScheme(StrEnum):
    """The ``Authorization`` schemes XRPC servers understand."""

    BASIC = "Basic"
    BEARER = "Bearer"
    DPOP = "DPoP"


_SCHEMES = {scheme.value.upper(): scheme for scheme in AuthScheme}


@dataclass(frozen=True, slots=True)
class AccessCredentials:
    """A session access token's account and scope."""

    did: str
    scope: AuthScope


@dataclass(frozen=True, slots=True)
class RefreshCredentials:
    """A session refresh token's account and id."""

    did: str
    token_id: str


@dataclass(frozen=True, slots=True)
class ServiceCredentials:
    """A service JWT's issuer (``did`` without, ``iss`` with the ``#service`` suffix)."""

    did: str
    iss: str
    aud: str
    lxm: str | None


@dataclass(frozen=True, slots=True)
class AdminCredentials:
    """The admin password was given."""


def parse_authorization(request: web.Request) -> tuple[AuthScheme, str] | None:
    """The scheme and credentials of the ``Authorization`` header (``None`` without one).

    A header that is not ``<scheme> <credentials>`` with a known scheme is a 400 ``InvalidToken``.
    """
    header = request.headers.get("Authorization")
    if not header:
        return None
    parts = header.split(" ")
    if len(parts) != 2:
        raise InvalidRequestError("Malformed authorization header", "InvalidToken")
    scheme = _SCHEMES.get(parts[0].upper())
    if scheme is None:
        raise InvalidRequestError(f"Unsupported authorization type: {parts[0]}", "InvalidToken")
    return scheme, parts[1]


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if that is the scheme used."""
    parsed = parse_authorization(request)
    return parsed[1] if parsed is not None and parsed[0] is AuthScheme.BEARER else None


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    """``(username, password)`` of an ``Authorization: Basic`` header (``None`` otherwise)."""
    parsed = parse_authorization(request)
    if parsed is None or parsed[0] is not AuthScheme.BASIC:
        return None
    try:
        decoded = base64.b64decode(parsed[1], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


def mark_private(ctx: HandlerContext[Any]) -> None:
    """Responses that depend on credentials must not be cached by shared caches."""
    ctx.response_headers["Cache-Control"] = "private"
    if "Authorization" not in ctx.response_headers.getall("Vary", []):
        ctx.response_headers.add("Vary", "Authorization")


class AuthVerifiers:
    """Builds route verifiers for one service.

    ``tokens`` verifies session tokens, ``admin_password`` enables admin Basic auth,
    ``service_dids`` are the audiences accepted in service JWTs and ``resolve_key`` finds
    issuers' signing keys. A verifier whose ingredient is missing refuses every call.
    """

    def __init__(
        self,
        *,
        tokens: SessionTokens | None = None,
        admin_password: str | None = None,
        service_dids: Collection[str] = (),
        resolve_key: KeyResolver | None = None,
    ) -> None:
        self.tokens = tokens
        self.admin_password = admin_password
        self.service_dids = tuple(service_dids)
        self.resolve_key = resolve_key

    def access(
        self, scopes: Collection[AuthScope] = ACCESS_STANDARD
    ) -> AuthVerifier[AccessCredentials]:
        """A session access token with one of ``scopes``."""

        async def verify(ctx: HandlerContext[Any]) -> AccessCredentials:
            mark_private(ctx)
            parsed = parse_authorization(ctx.request)
            if parsed is None:
                raise AuthRequiredError(None, "AuthMissing")
            if parsed[0] is not AuthScheme.BEARER:
                raise InvalidRequestError("Unexpected authorization type", "InvalidToken")
            token = self._tokens().verify_access(parsed[1], scopes)
            return AccessCredentials(token.did, token.scope)

        return verify

    def refresh(self, allow_expired: bool = False) -> AuthVerifier[RefreshCredentials]:
        """A session refresh token (``allow_expired`` for revoking an expired session)."""

        async def verify(ctx: HandlerContext[Any]) -> RefreshCredentials:
            mark_private(ctx)
            token = bearer_token(ctx.request)
            if token is None:
                raise AuthRequiredError(None, "AuthMissing")
            verified = self._tokens().verify_refresh(token, allow_expired=allow_expired)
            assert verified.token_id is not None  # verify_refresh guarantees it
            return RefreshCredentials(verified.did, verified.token_id)

        return verify

    def admin(self) -> AuthVerifier[AdminCredentials]:
        """HTTP Basic ``admin:<admin password>``."""

        async def verify(ctx: HandlerContext[Any]) -> AdminCredentials:
            mark_private(ctx)
            credentials = basic_credentials(ctx.request)
            expected = self.admin_password
            if credentials is None or not expected:
                raise AuthRequiredError()
            username, password = credentials
            same = hmac.compare_digest(password.encode(), expected.encode())
            if username != "admin" or not same:
                raise AuthRequiredError()
            return AdminCredentials()

        return verify

    def service(
        self, issuers: Collection[str] | None = None, check_lxm: bool = True
    ) -> AuthVerifier[ServiceCredentials]:
        """A service JWT for one of :attr:`service_dids`, bound to the called method (unless
        ``check_lxm`` is off), optionally only from ``issuers`` (``did`` or ``did#service``)."""

        async def verify(ctx: HandlerContext[Any]) -> ServiceCredentials:
            mark_private(ctx)
            token = bearer_token(ctx.request)
            if token is None:
                raise AuthRequiredError("missing jwt", "MissingJwt")
            resolve = self.resolve_key
            if resolve is None or not self.service_dids:
                raise AuthRequiredError("service auth is not configured", "UntrustedIss")

            async def resolve_trusted(iss: str, force_refresh: bool) -> Any:
                if issuers is not None and iss not in issuers:
                    raise AuthRequiredError("Untrusted issuer", "UntrustedIss")
                return await resolve(iss, force_refresh)

            lxm = ctx.nsid if check_lxm else None
            payload = await verify_service_jwt(token, self.service_dids, lxm, resolve_trusted)
            return ServiceCredentials(payload.did, payload.iss, payload.aud, payload.lxm)

        return verify

    def access_or_service(
        self, scopes: Collection[AuthScope] = ACCESS_STANDARD
    ) -> AuthVerifier[AccessCredentials | ServiceCredentials]:
        """A service JWT if the bearer token carries an ``lxm`` claim, else an access token."""
        access, service = self.access(scopes), self.service()

        async def verify(ctx: HandlerContext[Any]) -> AccessCredentials | ServiceCredentials:
            token = bearer_token(ctx.request)
            claims = decode_unverified_claims(token) if token else None
            if claims is not None and claims.get("lxm") is not None:
                return await service(ctx)
            return await access(ctx)

        return verify

    def admin_or(self, verifier: AuthVerifier[_T]) -> AuthVerifier[_T | AdminCredentials]:
        """Admin Basic auth when the Basic scheme is used, ``verifier`` otherwise."""
        admin = self.admin()

        async def verify(ctx: HandlerContext[Any]) -> _T | AdminCredentials:
            parsed = parse_authorization(ctx.request)
            if parsed is not None and parsed[0] is AuthScheme.BASIC:
                return await admin(ctx)
            return await verifier(ctx)

        return verify

    @staticmethod
    def optional(verifier: AuthVerifier[_T]) -> AuthVerifier[_T | None]:
        """``None`` for a call without ``Authorization``; ``verifier`` for one with it."""

        async def verify(ctx: HandlerContext[Any]) -> _T | None:
            if not ctx.request.headers.get("Authorization"):
                mark_private(ctx)
                return None
            return await verifier(ctx)

        return verify

    def _tokens(self) -> SessionTokens:
        if self.tokens is None:
            raise AuthRequiredError("session tokens are not accepted here", "InvalidToken")
        return self.tokens
