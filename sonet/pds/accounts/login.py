"""Password login (com.atproto.server.createSession's check of the credentials).

The identifier is a handle, a DID or (with an ``@``) an email address. The password is the
account password or one of its app passwords; taken-down accounts may only use the account
password. Unknown identifiers and wrong passwords get the same 401, and every attempt takes at
least :data:`~sonet.pds.accounts.service.LOGIN_FLOOR_SECONDS` so timing does not tell them apart.

An account with ``emailAuthFactor`` on also needs a code mailed to its address when it signs in
with the account password (not with an app password): com.atproto.server.createSession's
``authFactorToken`` and ``AuthFactorTokenRequired``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sonet.pds.accounts.email_flows import mail_token
from sonet.pds.accounts.errors import AccountAuthError
from sonet.pds.accounts.passwords import verify_password
from sonet.pds.accounts.service import AccountService
from sonet.pds.accounts.sessions import AppPassword
from sonet.storage.pds_account_store import AccountRow
from sonet.syntax.atidentifier import is_valid_at_identifier
from sonet.xrpc.errors import AuthRequiredError

__all__ = ["LoginResult", "check_auth_factor", "find_account", "login"]

_WRONG = "Invalid identifier or password"
CODE_SENT = "A sign in code has been sent to your email address"


@dataclass(frozen=True, slots=True)
class LoginResult:
    """Who logged in, with which app password (``None``: the account password)."""

    account: AccountRow
    app_password: AppPassword | None

    @property
    def takendown(self) -> bool:
        """The account is taken down (or suspended)."""
        return self.account.status in ("takendown", "suspended")


async def find_account(service: AccountService, identifier: str) -> AccountRow | None:
    """The account named by a handle, DID or email address (any status)."""
    normalized = identifier.strip().lower()
    accounts = service.ctx.accounts
    if "@" in normalized:
        async with accounts.db.read() as conn:
            return await accounts.store.by_email(conn, normalized)
    if normalized.startswith("did:"):
        return await accounts.get(identifier.strip())
    if is_valid_at_identifier(normalized):
        return await accounts.lookup(normalized)
    return None


async def login(service: AccountService, identifier: str, password: str) -> LoginResult:
    """Check the credentials; 401 ``AuthenticationRequired`` if they do not match."""
    started = time.monotonic()
    try:
        account = await find_account(service, identifier)
        if account is None:
            raise AccountAuthError(_WRONG)
        if await verify_password(account.password_hash, password):
            return LoginResult(account, None)
        takendown = account.status in ("takendown", "suspended")
        app_password = (
            None if takendown else await service.app_passwords.verify(account.did, password)
        )
        if app_password is None:
            raise AccountAuthError(_WRONG)
        return LoginResult(account, app_password)
    finally:
        await asyncio.sleep(max(0.0, service.login_floor - (time.monotonic() - started)))


async def check_auth_factor(
    service: AccountService, result: LoginResult, token: str | None
) -> None:
    """The email factor of a password login: without ``token``, mail a sign-in code and answer
    401 ``AuthFactorTokenRequired``; with one, check it (``InvalidToken``/``ExpiredToken``) and
    spend it."""
    account = result.account
    if not account.email_auth_factor or result.app_password is not None:
        return
    if not token:
        await mail_token(service, account.did, "2fa")
        raise AuthRequiredError(CODE_SENT, "AuthFactorTokenRequired")
    await service.email_tokens.check(account.did, "2fa", token)
    async with service.ctx.db.write() as conn:
        await service.email_tokens.delete(conn, account.did, "2fa")
