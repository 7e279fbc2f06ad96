"""Rules for handing out service-auth JWTs (com.atproto.server.getServiceAuth).

https://atproto.com/specs/xrpc#inter-service-authentication-jwt. As in the reference PDS: the
audience must be an atproto DID (``did:plc``/``did:web``), optionally with a ``#service``
fragment; ``exp`` may be at most an hour ahead, and at most a minute without ``lxm``; account
management methods (:data:`PROTECTED_METHODS`) are never granted; privileged methods
(:data:`PRIVILEGED_METHODS`: chat and createAccount) need a full or privileged session; a
taken-down session may only ask for createAccount (to migrate away), and gets it.
"""

from __future__ import annotations

import re
from typing import Final

from sonet.pds.accounts.errors import AccountError
from sonet.syntax.did import is_valid_did
from sonet.xrpc.tokens import AuthScope

__all__ = [
    "MAX_EXP_SECONDS",
    "MAX_METHODLESS_EXP_SECONDS",
    "PRIVILEGED_METHODS",
    "PROTECTED_METHODS",
    "check_service_auth_request",
    "is_privileged_method",
]

MAX_EXP_SECONDS: Final = 3600
MAX_METHODLESS_EXP_SECONDS: Final = 60
CREATE_ACCOUNT: Final = "com.atproto.server.createAccount"

PROTECTED_METHODS: Final = frozenset(
    {
        "com.atproto.admin.sendEmail",
        "com.atproto.identity.requestPlcOperationSignature",
        "com.atproto.identity.signPlcOperation",
        "com.atproto.identity.updateHandle",
        "com.atproto.server.activateAccount",
        "com.atproto.server.confirmEmail",
        "com.atproto.server.createAppPassword",
        "com.atproto.server.deactivateAccount",
        "com.atproto.server.getAccountInviteCodes",
        "com.atproto.server.getSession",
        "com.atproto.server.listAppPasswords",
        "com.atproto.server.requestAccountDelete",
        "com.atproto.server.requestEmailConfirmation",
        "com.atproto.server.requestEmailUpdate",
        "com.atproto.server.revokeAppPassword",
        "com.atproto.server.updateEmail",
    }
)
"""Account-management methods that must be called directly, never with service auth."""

PRIVILEGED_METHODS: Final = frozenset({CREATE_ACCOUNT})
"""Methods (besides every ``chat.bsky.*`` one) that app-password sessions may not delegate."""

_FRAGMENT: Final = re.compile(r"[a-zA-Z0-9._~:@!$&'()*+,;=%-]+")


def is_privileged_method(lxm: str) -> bool:
    """Direct messages and account creation."""
    return lxm in PRIVILEGED_METHODS or lxm.startswith("chat.bsky.")


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
    if lxm is not None and lxm in PROTECTED_METHODS:
        raise AccountError(
            f"cannot request a service auth token for the following protected method: {lxm}"
        )
