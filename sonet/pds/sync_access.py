"""Who may read or write which hosted repository, by account hosting status.

https://atproto.com/specs/account#hosting-status: a taken-down, suspended or deactivated repo is
not served to others (``RepoTakendown``/``RepoSuspended``/``RepoDeactivated``), though its owner
and the admin still see it. Writes need a session of the repo's own account; the error names and
statuses are the reference PDS's (``AccountNotFound`` 403, ``AccountTakedown`` and
``AccountDeactivated`` 401, another account's repo 401).
"""

from __future__ import annotations

from typing import Any

from sonet.pds.context import PdsContext
from sonet.storage.pds_account_store import AccountRow
from sonet.xrpc.auth import AccessCredentials, AdminCredentials
from sonet.xrpc.errors import AuthRequiredError, ForbiddenError, InvalidRequestError

__all__ = [
    "hosting_status",
    "is_owner_or_admin",
    "readable_account",
    "writable_account",
]

_REPO_ERRORS = {
    "takendown": ("RepoTakendown", "Repo has been takendown"),
    "suspended": ("RepoSuspended", "Repo has been suspended"),
    "deactivated": ("RepoDeactivated", "Repo has been deactivated"),
}


def hosting_status(row: AccountRow) -> str | None:
    """``takendown``, ``suspended``, ``deactivated`` (or another inactive status); None if active."""
    if row.takedown_ref:
        return "takendown"
    if row.status != "active":
        return row.status
    if row.deactivated_at is not None:
        return "deactivated"
    return None


def is_owner_or_admin(auth: Any, did: str) -> bool:
    """True for the admin and for a session of ``did`` itself."""
    if isinstance(auth, AdminCredentials):
        return True
    return isinstance(auth, AccessCredentials) and auth.did == did


async def readable_account(
    ctx: PdsContext, handle_or_did: str, *, owner_or_admin: bool = False
) -> AccountRow:
    """The account whose repo is requested; refuses unavailable repos unless ``owner_or_admin``."""
    row = await ctx.accounts.lookup(handle_or_did)
    if row is None:
        raise InvalidRequestError(f"Could not find repo for DID: {handle_or_did}", "RepoNotFound")
    status = hosting_status(row)
    if status is None or owner_or_admin:
        return row
    error, message = _REPO_ERRORS.get(status, ("RepoNotFound", "Could not find repo for DID"))
    raise InvalidRequestError(f"{message}: {handle_or_did}", error)


async def writable_account(ctx: PdsContext, handle_or_did: str, auth_did: str) -> AccountRow:
    """The account named by a write's ``repo``; it must be active and the caller's own."""
    row = await ctx.accounts.lookup(handle_or_did)
    if row is None:
        raise ForbiddenError("Account not found", "AccountNotFound")
    status = hosting_status(row)
    if status in ("takendown", "suspended"):
        raise AuthRequiredError("Account has been taken down", "AccountTakedown")
    if status is not None:
        raise AuthRequiredError("Account is deactivated", "AccountDeactivated")
    if row.did != auth_did:
        raise AuthRequiredError()
    return row
