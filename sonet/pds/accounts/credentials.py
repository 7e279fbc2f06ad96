"""Changing an account's email address or password (by its holder or by the admin)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from sonet.pds.accounts.email_address import ensure_supported_email
from sonet.pds.accounts.errors import AccountError
from sonet.pds.accounts.passwords import NEW_PASSWORD_MAX_LENGTH, hash_password
from sonet.pds.accounts.service import AccountService

__all__ = ["set_email", "set_password"]


async def set_email(service: AccountService, did: str, email: str) -> None:
    """Set a new (unconfirmed) address and drop every pending email code of the account.

    The email sign-in factor goes off with it: codes would go to an unconfirmed address.
    """
    address = ensure_supported_email(email)
    ctx = service.ctx
    try:
        async with ctx.db.write() as conn:
            if not await ctx.accounts.store.set_fields(
                conn, did, email=address, email_confirmed_at=None, email_auth_factor=False
            ):
                raise AccountError("account not found")
            await service.email_tokens.delete(conn, did)
    except IntegrityError:
        raise AccountError(
            "This email address is already in use, please use a different email."
        ) from None


async def set_password(service: AccountService, did: str, password: str) -> None:
    """Set a new password; pending reset codes and every session of the account end."""
    if len(password) > NEW_PASSWORD_MAX_LENGTH:
        raise AccountError("Invalid password length.")
    hashed = await hash_password(password)
    ctx = service.ctx
    async with ctx.db.write() as conn:
        if not await ctx.accounts.store.set_fields(conn, did, password_hash=hashed):
            raise AccountError("account not found")
        await service.email_tokens.delete(conn, did, "reset_password")
        await service.sessions.revoke_all(conn, did)
