"""Who is asking: the viewer DID from the PDS's service-auth JWT.

https://atproto.com/specs/xrpc#inter-service-authentication-jwt: the JWT's issuer DID is
resolved and its ``#atproto`` key checks the signature; ``aud`` must be the AppView's DID
(optionally with ``#bsky_appview``), ``lxm`` the called method, and it must not be expired.
As in the reference AppView, reads that allow it are served without a JWT (no viewer), and
``getFeed`` accepts a JWT meant for the feed generator (any audience, ``lxm`` ``getFeed`` or
``getFeedSkeleton``) so it can be passed on.
"""

from __future__ import annotations

import time
from typing import Any, Final

from sonet.crypto import PublicKey
from sonet.identity.did_resolver import DidResolver
from sonet.identity.errors import IdentityError
from sonet.xrpc.auth import AuthVerifiers, bearer_token, mark_private
from sonet.xrpc.context import AuthVerifier, HandlerContext
from sonet.xrpc.errors import AuthRequiredError
from sonet.xrpc.jws import decode_unverified_claims
from sonet.xrpc.service_jwt import KeyResolver, verify_service_jwt

__all__ = ["FEED_METHODS", "VerifiedTokens", "ViewerAuth", "key_resolver"]

FEED_METHODS: Final = frozenset({"app.bsky.feed.getFeed", "app.bsky.feed.getFeedSkeleton"})


def key_resolver(dids: DidResolver) -> KeyResolver:
    """Resolves a JWT issuer's signing key; an issuer that cannot be resolved is a 401."""

    async def resolve(iss: str, force_refresh: bool) -> PublicKey:
        did = iss.partition("#")[0]
        try:
            return await dids.resolve_signing_key(did, force_refresh=force_refresh)
        except IdentityError:
            raise AuthRequiredError("could not resolve the jwt issuer", "BadJwtIss") from None

    return resolve


class VerifiedTokens:
    """Service JWTs already verified for a method, until they expire: a client (or a PDS
    proxying for it) that sends the same token again is not checked again (decoding, key
    lookup, signature). Holds at most ``size`` tokens, the oldest dropped first."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._tokens: dict[tuple[str, str], tuple[float, str]] = {}

    def get(self, authorization: str, nsid: str) -> str | None:
        """The viewer DID of a token verified for ``nsid`` that has not expired."""
        hit = self._tokens.get((authorization, nsid))
        if hit is None:
            return None
        if time.time() > hit[0]:
            del self._tokens[(authorization, nsid)]
            return None
        return hit[1]

    def put(self, authorization: str, nsid: str, did: str) -> None:
        """Remember a token just verified for ``nsid`` (until its ``exp``)."""
        claims = decode_unverified_claims(authorization.partition(" ")[2])
        exp = claims.get("exp") if claims is not None else None
        if not isinstance(exp, int | float):
            return
        if len(self._tokens) >= self.size:
            del self._tokens[next(iter(self._tokens))]
        self._tokens[(authorization, nsid)] = (float(exp), did)


class ViewerAuth:
    """Route verifiers answering the viewer's DID (or None) from ``verifiers``."""

    def __init__(self, verifiers: AuthVerifiers, tokens: VerifiedTokens | None = None) -> None:
        self.verifiers = verifiers
        self.tokens = tokens or VerifiedTokens()
        self._service = verifiers.service()

    def required(self) -> AuthVerifier[str]:
        """A valid service JWT is required."""
        service, tokens = self._service, self.tokens

        async def verify(ctx: HandlerContext[Any]) -> str:
            authorization = ctx.request.headers.get("Authorization")
            if not authorization:
                raise AuthRequiredError(None, "AuthMissing")
            did = tokens.get(authorization, ctx.nsid)
            if did is not None:
                mark_private(ctx)
                return did
            did = (await service(ctx)).did
            tokens.put(authorization, ctx.nsid, did)
            return did

        return verify

    def optional(self) -> AuthVerifier[str | None]:
        """No ``Authorization``: no viewer; otherwise a valid service JWT."""
        required = self.required()
        return AuthVerifiers.optional(required)

    def feed(self) -> AuthVerifier[tuple[str | None, str | None]]:
        """``(viewer, token)`` for ``getFeed``: any audience, a feed method as ``lxm``."""
        resolve = self.verifiers.resolve_key

        async def verify(ctx: HandlerContext[Any]) -> tuple[str | None, str | None]:
            if not ctx.request.headers.get("Authorization"):
                return None, None
            token = bearer_token(ctx.request)
            if token is None or resolve is None:
                raise AuthRequiredError("missing jwt", "MissingJwt")
            payload = await verify_service_jwt(token, None, None, resolve)
            if payload.lxm not in FEED_METHODS:
                raise AuthRequiredError(
                    f'bad jwt lexicon method ("lxm"). must match: {ctx.nsid}',
                    "BadJwtLexiconMethod",
                )
            ctx.response_headers["Cache-Control"] = "private"
            return payload.did, token

        return verify
