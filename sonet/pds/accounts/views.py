"""Account data as the lexicons shape it: sessions (com.atproto.server.getSession and friends)
and admin account views (com.atproto.admin.defs#accountView)."""

from __future__ import annotations

from typing import Any

from sonet.pds.accounts.sessions import SessionPair
from sonet.pds.accounts.times import to_datetime
from sonet.storage.pds_account_store import AccountRow

__all__ = ["account_view", "session_view"]


def session_view(
    account: AccountRow, did_doc: dict[str, Any] | None, tokens: SessionPair | None = None
) -> dict[str, Any]:
    """The session fields: identity, email state, hosting status and optionally tokens."""
    view: dict[str, Any] = {"did": account.did, "handle": account.handle}
    if tokens is not None:
        view["accessJwt"] = tokens.access_jwt
        view["refreshJwt"] = tokens.refresh_jwt
    if did_doc is not None:
        view["didDoc"] = did_doc
    if account.email is not None:
        view["email"] = account.email
    view["emailConfirmed"] = account.email_confirmed_at is not None
    view["emailAuthFactor"] = account.email_auth_factor
    view["active"] = account.active
    if not account.active:
        view["status"] = account.status
    return view


def account_view(
    account: AccountRow,
    invites: list[dict[str, Any]],
    invited_by: dict[str, Any] | None,
) -> dict[str, Any]:
    """An admin's view of one account, with its invite codes."""
    view: dict[str, Any] = {
        "did": account.did,
        "handle": account.handle,
        "indexedAt": to_datetime(account.created_at),
        "invites": invites,
        "invitesDisabled": account.invites_disabled,
    }
    if account.email is not None:
        view["email"] = account.email
    if account.email_confirmed_at is not None:
        view["emailConfirmedAt"] = to_datetime(account.email_confirmed_at)
    if invited_by is not None:
        view["invitedBy"] = invited_by
    if account.deactivated_at is not None:
        view["deactivatedAt"] = to_datetime(account.deactivated_at)
    return view
