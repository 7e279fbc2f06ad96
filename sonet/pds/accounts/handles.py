"""Which handles an account of this PDS may take.

https://atproto.com/specs/handle: syntax and disallowed TLDs; on top of that, as the reference
PDS does, a handle under one of the server's user domains must be a single label of 3 to 18
characters that is not reserved, and a handle on another domain is only accepted for an existing
DID it already resolves to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from sonet.pds.accounts.errors import AccountError
from sonet.syntax.handle import is_disallowed_handle_tld, is_valid_handle

__all__ = ["RESERVED_NAMES", "normalize_handle", "user_domain_of", "validate_handle"]

MIN_NAME_LENGTH: Final = 3
MAX_NAME_LENGTH: Final = 18

RESERVED_NAMES: Final = frozenset(
    [
        "admin",
        "administrator",
        "api",
        "app",
        "apps",
        "atp",
        "atproto",
        "auth",
        "bsky",
        "bluesky",
        "config",
        "dashboard",
        "did",
        "dns",
        "docs",
        "email",
        "feed",
        "feeds",
        "ftp",
        "handle",
        "help",
        "host",
        "hostmaster",
        "info",
        "invite",
        "localhost",
        "lexicon",
        "login",
        "mail",
        "moderation",
        "moderator",
        "news",
        "noreply",
        "nsid",
        "official",
        "pds",
        "plc",
        "postmaster",
        "relay",
        "repo",
        "root",
        "security",
        "server",
        "service",
        "settings",
        "signup",
        "sonet",
        "staff",
        "status",
        "support",
        "sync",
        "system",
        "test",
        "tid",
        "webmaster",
        "www",
        "xrpc",
    ]
)
"""Names under a user domain that no account may take (operator and protocol words)."""

HandleResolve = Callable[[str], Awaitable[str | None]]


def normalize_handle(handle: str) -> str:
    """The lower-case form of a syntactically valid handle, else ``InvalidHandle``."""
    if not is_valid_handle(handle):
        raise AccountError("Invalid handle", "InvalidHandle")
    return handle.lower()


def user_domain_of(handle: str, user_domains: Sequence[str]) -> str | None:
    """The user domain (``.example.com``) the handle is under, if any."""
    return next((domain for domain in user_domains if handle.endswith(domain)), None)


async def validate_handle(
    handle: str,
    user_domains: Sequence[str],
    *,
    did: str | None = None,
    allow_reserved: bool = False,
    resolve: HandleResolve | None = None,
) -> str:
    """Normalise ``handle`` and check that an account (``did``, if it exists already) may take it.

    A handle outside the user domains needs ``did`` and must resolve to it through ``resolve``.
    """
    normalized = normalize_handle(handle)
    if is_disallowed_handle_tld(normalized):
        raise AccountError("Handle TLD is invalid or disallowed", "InvalidHandle")
    domain = user_domain_of(normalized, user_domains)
    if domain is not None:
        name = normalized[: len(normalized) - len(domain)]
        if "." in name:
            raise AccountError("Invalid characters in handle", "InvalidHandle")
        if len(name) < MIN_NAME_LENGTH:
            raise AccountError("Handle too short", "InvalidHandle")
        if len(name) > MAX_NAME_LENGTH:
            raise AccountError("Handle too long", "InvalidHandle")
        if not allow_reserved and name in RESERVED_NAMES:
            raise AccountError("Reserved handle", "HandleNotAvailable")
        return normalized
    if did is None:
        raise AccountError("Not a supported handle domain", "UnsupportedDomain")
    resolved = await resolve(normalized) if resolve is not None else None
    if resolved != did:
        raise AccountError("External handle did not resolve to DID")
    return normalized
