"""One-time codes mailed to account holders, stored only as hashes and valid for 15 minutes.

Codes look like the reference PDS's (``ABCDE-23456``, base32) and are compared case-insensitively.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.pds.accounts.errors import AccountError
from sonet.pds.accounts.times import SECOND_US, now_us
from sonet.storage.database import Database
from sonet.storage.pds_email_token_store import EmailTokenStore

__all__ = ["TOKEN_TTL_US", "EmailTokens", "Purpose", "new_email_token"]

Purpose = Literal[
    "confirm_email", "update_email", "reset_password", "delete_account", "plc_operation", "2fa"
]
"""What a code is for; ``2fa`` is the sign-in code of an account with ``emailAuthFactor``."""
TOKEN_TTL_US: Final = 15 * 60 * SECOND_US
_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def new_email_token() -> str:
    """A fresh ``XXXXX-XXXXX`` code (50 random bits)."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{chars[:5]}-{chars[5:]}"


def _hash(token: str) -> str:
    return hashlib.sha256(token.strip().upper().encode()).hexdigest()


class EmailTokens:
    """Issues and checks email codes."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.store = EmailTokenStore()

    async def create(self, did: str, purpose: Purpose) -> str:
        """A new code for ``purpose``, replacing the account's previous one."""
        token = new_email_token()
        async with self.db.write() as conn:
            await self.store.put(conn, did, purpose, _hash(token), now_us())
        return token

    async def check(self, did: str, purpose: Purpose, token: str) -> None:
        """``InvalidToken`` unless ``token`` is the account's live code for ``purpose``;
        ``ExpiredToken`` if it is older than 15 minutes."""
        async with self.db.read() as conn:
            row = await self.store.find(conn, purpose, _hash(token), did)
        _check_age(None if row is None else row.requested_at)

    async def find_did(self, purpose: Purpose, token: str) -> str:
        """The account a live code for ``purpose`` was issued to."""
        async with self.db.read() as conn:
            row = await self.store.find(conn, purpose, _hash(token))
        _check_age(None if row is None else row.requested_at)
        assert row is not None
        return row.did

    async def delete(self, conn: AsyncConnection, did: str, purpose: Purpose | None = None) -> None:
        """Drop the account's code for ``purpose`` (every code without one) in ``conn``."""
        await self.store.delete(conn, did, purpose)


def _check_age(requested_at: int | None) -> None:
    if requested_at is None:
        raise AccountError("Token is invalid", "InvalidToken")
    if now_us() - requested_at > TOKEN_TTL_US:
        raise AccountError("Token is expired", "ExpiredToken")
