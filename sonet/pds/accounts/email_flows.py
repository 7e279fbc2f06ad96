"""Email confirmation, email change, the email sign-in factor and password reset, each with a
mailed one-time code.

Behaviour follows the reference PDS: changing a confirmed address needs a code sent to it
(``TokenRequired`` otherwise); confirming checks the address given against the account's
(``InvalidEmail``); a reset code identifies the account by itself.
"""

from __future__ import annotations

from sonet.pds.accounts.credentials import set_email, set_password
from sonet.pds.accounts.email_tokens import Purpose
from sonet.pds.accounts.errors import AccountError
from sonet.pds.accounts.passwords import NEW_PASSWORD_MAX_LENGTH
from sonet.pds.accounts.service import AccountService
from sonet.pds.accounts.times import now_us
from sonet.storage.pds_account_store import AccountRow

__all__ = [
    "confirm_email",
    "mail_token",
    "request_email_confirmation",
    "request_email_update",
    "request_password_reset",
    "reset_password",
    "update_email",
]


async def _account_with_email(service: AccountService, did: str) -> tuple[AccountRow, str]:
    account = await service.ctx.accounts.get(did)
    if account is None:
        raise AccountError("account not found")
    if not account.email:
        raise AccountError("account does not have an email address")
    return account, account.email


async def mail_token(service: AccountService, did: str, purpose: Purpose) -> None:
    """Mail the account a new code for ``purpose`` (also used for account deletion and PLC
    operations)."""
    _, email = await _account_with_email(service, did)
    token = await service.email_tokens.create(did, purpose)
    await service.mailer.send_token(email, purpose, token)


async def request_email_confirmation(service: AccountService, did: str) -> None:
    """Mail a code confirming the account's address."""
    await mail_token(service, did, "confirm_email")


async def confirm_email(service: AccountService, did: str, email: str, token: str) -> None:
    """Mark the address confirmed, given the mailed code."""
    account = await service.ctx.accounts.get(did)
    if account is None:
        raise AccountError("user not found", "AccountNotFound")
    if account.email != email.lower():
        raise AccountError("invalid email", "InvalidEmail")
    await service.email_tokens.check(did, "confirm_email", token)
    async with service.ctx.db.write() as conn:
        await service.email_tokens.delete(conn, did, "confirm_email")
        await service.ctx.accounts.store.set_fields(conn, did, email_confirmed_at=now_us())


async def request_email_update(service: AccountService, did: str) -> bool:
    """Mail a change code if the current address is confirmed; returns whether one is needed."""
    account, email = await _account_with_email(service, did)
    if account.email_confirmed_at is None:
        return False
    token = await service.email_tokens.create(did, "update_email")
    await service.mailer.send_token(email, "update_email", token)
    return True


async def update_email(
    service: AccountService,
    did: str,
    email: str,
    token: str | None,
    email_auth_factor: bool | None = None,
) -> None:
    """Change the address (with the mailed code when the current one is confirmed) and/or turn
    the email sign-in factor on or off.

    As in the Bluesky app's flow, the factor goes on for the current, confirmed address without a
    code, and off only with one; a new address is unconfirmed, so it turns the factor off.
    """
    account = await service.ctx.accounts.get(did)
    if account is None:
        raise AccountError("account not found")
    confirmed = account.email_confirmed_at is not None
    same = account.email is not None and account.email.lower() == email.lower()
    if email_auth_factor and not (same and confirmed):
        raise AccountError("the email address must be confirmed to enable email sign-in codes")
    if confirmed and not token and not (same and email_auth_factor):
        raise AccountError("confirmation token required", "TokenRequired")
    if token:
        await service.email_tokens.check(did, "update_email", token)
    if not same or email_auth_factor is None:
        await set_email(service, did, email)
        return
    async with service.ctx.db.write() as conn:
        await service.ctx.accounts.store.set_fields(conn, did, email_auth_factor=email_auth_factor)
        await service.email_tokens.delete(conn, did, "update_email")
        await service.email_tokens.delete(conn, did, "2fa")


async def request_password_reset(service: AccountService, email: str) -> None:
    """Mail a reset code to the account with this address."""
    async with service.ctx.db.read() as conn:
        account = await service.ctx.accounts.store.by_email(conn, email)
    if account is None or not account.email:
        raise AccountError("account does not have an email address")
    token = await service.email_tokens.create(account.did, "reset_password")
    await service.mailer.send_token(account.email, "reset_password", token)


async def reset_password(service: AccountService, token: str, password: str) -> str:
    """Set a new password with a reset code; returns the account's DID."""
    if len(password) > NEW_PASSWORD_MAX_LENGTH:
        raise AccountError("Invalid password length.")
    did = await service.email_tokens.find_did("reset_password", token)
    await set_password(service, did, password)
    return did
