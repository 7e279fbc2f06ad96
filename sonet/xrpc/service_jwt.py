"""Inter-service authentication: short-lived JWTs signed with an account's atproto key.

https://atproto.com/specs/xrpc#inter-service-authentication-jwt: header ``alg`` (``ES256K`` for
k256, ``ES256`` for p256) and ``typ`` ``JWT``; claims ``iss`` (account DID, optionally with a
``#service`` suffix), ``aud`` (the receiving service's DID), ``exp``, ``iat``, ``lxm`` (the
XRPC method it authorises) and ``jti`` (random nonce); the signature is the raw 64-byte
``r || s`` (low-S, https://atproto.com/specs/cryptography) in base64url. Refusals are 401
``AuthenticationRequired`` errors named as in the reference (``BadJwt``, ``JwtExpired``,
``BadJwtAudience``, ``BadJwtLexiconMethod``, ``BadJwtIss``, ``BadJwtSignature``, ...).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, Final

import orjson

from sonet.crypto import CryptoError, Keypair, PublicKey
from sonet.syntax.did import is_valid_did
from sonet.xrpc.errors import AuthRequiredError
from sonet.xrpc.jws import MalformedJwtError, b64url_encode, split_jws

__all__ = [
    "SERVICE_JWT_TTL",
    "KeyResolver",
    "ServiceJwtPayload",
    "create_service_jwt",
    "verify_service_jwt",
]

SERVICE_JWT_TTL: Final = 60
"""Default lifetime in seconds (the spec's suggestion)."""
NON_SERVICE_TYPS: Final = frozenset({"at+jwt", "refresh+jwt", "dpop+jwt"})
"""``typ`` values of session, refresh and DPoP tokens, never accepted as service auth."""

KeyResolver = Callable[[str, bool], Awaitable[PublicKey]]
"""``(iss, force_refresh) -> signing key`` of the issuer (``iss`` may carry a ``#service``
suffix: ``#atproto_labeler`` selects the ``atproto_label`` key). ``force_refresh`` asks for a
fresh DID-document resolution after a failed check, in case the key was rotated. Raise an
:class:`~sonet.xrpc.errors.XRPCError` to refuse the issuer."""


@dataclass(frozen=True, slots=True)
class ServiceJwtPayload:
    """The verified claims of a service JWT."""

    iss: str
    aud: str
    exp: float
    iat: float | None
    lxm: str | None
    jti: str | None

    @property
    def did(self) -> str:
        """The issuer DID without its ``#service`` suffix."""
        return self.iss.partition("#")[0]


def create_service_jwt(
    keypair: Keypair,
    iss: str,
    aud: str,
    lxm: str | None,
    exp: float | None = None,
    iat: float | None = None,
) -> str:
    """Sign a service JWT; ``exp`` defaults to :data:`SERVICE_JWT_TTL` seconds after ``iat``
    (default: now)."""
    issued = int(time.time()) if iat is None else int(iat)
    claims: dict[str, Any] = {
        "iat": issued,
        "iss": iss,
        "aud": aud,
        "exp": issued + SERVICE_JWT_TTL if exp is None else int(exp),
    }
    if lxm is not None:
        claims["lxm"] = lxm
    claims["jti"] = secrets.token_hex(16)
    header = {"typ": "JWT", "alg": keypair.jwt_alg}
    signing_input = f"{b64url_encode(orjson.dumps(header))}.{b64url_encode(orjson.dumps(claims))}"
    signature = keypair.sign(signing_input.encode())
    return f"{signing_input}.{b64url_encode(signature)}"


def _bad_jwt() -> AuthRequiredError:
    return AuthRequiredError("poorly formatted jwt", "BadJwt")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_claims(claims: dict[str, Any]) -> None:
    if not (
        isinstance(claims.get("iss"), str)
        and isinstance(claims.get("aud"), str)
        and _is_number(claims.get("exp"))
        and isinstance(claims.get("lxm", ""), str)
        and isinstance(claims.get("jti", ""), str)
        and _is_number(claims.get("iat", 0))
    ):
        raise _bad_jwt()


def _is_did_or_service(iss: str) -> bool:
    did, hash_sign, service = iss.partition("#")
    if hash_sign and (not service or "#" in service):
        return False
    return is_valid_did(did)


def _signature_matches(key: PublicKey, alg: object, message: bytes, signature: bytes) -> bool:
    if alg != key.jwt_alg:
        raise AuthRequiredError("could not verify jwt signature", "BadJwtSignature")
    return key.verify(message, signature)


async def _resolve(resolve_key: KeyResolver, iss: str, force_refresh: bool) -> PublicKey:
    try:
        return await resolve_key(iss, force_refresh)
    except CryptoError:
        raise AuthRequiredError("missing or bad key in did doc") from None


async def verify_service_jwt(
    token: str,
    aud: str | Collection[str] | None,
    lxm: str | None,
    resolve_key: KeyResolver,
    now: float | None = None,
) -> ServiceJwtPayload:
    """Verify a service JWT for audience ``aud`` and method ``lxm`` (``None`` skips a check).

    The signature is checked with the issuer's key; if it does not match, the key is resolved
    once more with ``force_refresh`` and the check repeated. High-S signatures are refused.
    """
    try:
        jws = split_jws(token)
    except MalformedJwtError:
        raise _bad_jwt() from None
    header, claims = jws.header, jws.claims
    if not isinstance(header.get("alg"), str):
        raise _bad_jwt()
    if header.get("typ") in NON_SERVICE_TYPS:
        raise AuthRequiredError(f'Invalid jwt type "{header["typ"]}"', "BadJwtType")
    _check_claims(claims)
    current = time.time() if now is None else now
    if current > claims["exp"]:
        raise AuthRequiredError("jwt expired", "JwtExpired")
    audiences = (aud,) if isinstance(aud, str) else aud
    if audiences is not None and claims["aud"] not in audiences:
        raise AuthRequiredError("jwt audience does not match service did", "BadJwtAudience")
    if lxm is not None and claims.get("lxm") != lxm:
        what = "bad" if "lxm" in claims else "missing"
        raise AuthRequiredError(
            f'{what} jwt lexicon method ("lxm"). must match: {lxm}', "BadJwtLexiconMethod"
        )
    iss: str = claims["iss"]
    if not _is_did_or_service(iss):
        raise AuthRequiredError("jwt iss is not a valid did", "BadJwtIss")
    message, signature = jws.signing_input, jws.signature
    key = await _resolve(resolve_key, iss, False)
    valid = _signature_matches(key, header["alg"], message, signature)
    if not valid:
        fresh = await _resolve(resolve_key, iss, True)
        valid = fresh != key and _signature_matches(fresh, header["alg"], message, signature)
    if not valid:
        raise AuthRequiredError("jwt signature does not match jwt issuer", "BadJwtSignature")
    return ServiceJwtPayload(
        iss=iss,
        aud=claims["aud"],
        exp=claims["exp"],
        iat=claims.get("iat"),
        lxm=claims.get("lxm"),
        jti=claims.get("jti"),
    )
