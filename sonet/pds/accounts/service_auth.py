"""Rules for handing out service-auth JWTs (com.atproto.server.getServiceAuth).

https://atproto.com/specs/xrpc#inter-service-authentication-jwt. As in the reference PDS: the
audience must be an atproto DID (``did:plc``/``did:web``), optionally with a ``#service``
fragment; ``exp`` may be at most an hour ahead, and at most a minute without ``lxm``; account
management methods are never granted; privileged methods (direct messages and createAccount)
need a full or privileged session; a taken-down session may only ask for createAccount (to
migrate away), and gets it. The method sets are the proxy's (:mod:`sonet.pds.proxy_methods`).
"""

from __future__ import annotations

import re
from typing import Final

from sonet.pds.accounts.errors import AccountError
from sonet.pds.proxy_methods import is_privileged_method, is_protected_method
from sonet.syntax.did import is_valid_did
from sonet.xrpc.tokens import AuthScope

__all__ = ["MAX_EXP_SECONDS", "MAX_METHODLESS_EXP_SECONDS", "check_service_auth_request"]

MAX_EXP_SECONDS: Final = 3600
MAX_METHODLESS_EXP_SECONDS: Final = 60
CREATE_ACCOUNT: Final = "com.atproto.server.createAccount"

_FRAGMENT: Final = re.compile(r"[a-zA-Z0-9._~:@!$&'()*+,;=%-]+")


def _is_atproto_audience(aud: str) -> bool:
    did, hash_sign, fragment = aud.partition("#")
    if hash_sign and _FRAGMENT.fullmatch(fragment) is None:
        return False
    return did.startswith(("did:plc:", "did:web:")) and is_valid_did(did)


def check_service_auth_request(
    aud: str, exp: int | None, lxm: str | None, scope: AuthScope, now: float
) -> None:
    """400 unless a session of ``scope`` may get a token for ``aud``/``lxm`` expiring at ``exp``."""
    if not _is_atproto_audience(aud):
        raise AccountError("aud must be a valid atproto DID or did#serviceId reference")
    if scope is AuthScope.TAKENDOWN and lxm != CREATE_ACCOUNT:
        raise AccountError("Bad token scope", "InvalidToken")
    # a taken-down session asks for createAccount only, to migrate away: let it (the reference
    # means to, but its privileged-method check then refuses it)
    full = scope in (AuthScope.ACCESS, AuthScope.APP_PASS_PRIVILEGED, AuthScope.TAKENDOWN)
    if lxm is not None and is_privileged_method(lxm) and not full:
        raise AccountError(
            f"insufficient access to request a service auth token for the following method: {lxm}"
        )
    if exp is not None:
        ahead = exp - now
        if ahead < 0:
            raise AccountError("expiration is in past", "BadExpiration")
        if ahead > MAX_EXP_SECONDS:
            raise AccountError(
                "cannot request a token with an expiration more than an hour in the future",
                "BadExpiration",
            )
        if lxm is None and ahead > MAX_METHODLESS_EXP_SECONDS:
            raise AccountError(
                "cannot request a method-less token with an expiration more than a minute in"
                " the future",
                "BadExpiration",
            )
    if lxm is not None and is_protected_method(lxm):
        raise AccountError(
            f"cannot request a service auth token for the following protected method: {lxm}"
        )
