"""Invite codes: minting, checking and counting uses, listing, disabling.

Codes look like the reference PDS's: the hostname with dots turned into dashes, then two groups
of five base32 characters (``pds-example-com-abcde-23456``). Codes minted by the admin belong to
``admin`` unless given to accounts.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.pds.accounts.errors import AccountError
from sonet.pds.accounts.times import now_us, to_datetime
from sonet.storage.database import Database
from sonet.storage.pds_account_store import AccountStore
from sonet.storage.pds_invite_store import InviteCodeRow, InviteSort, InviteStore

__all__ = ["ADMIN", "Invites"]

ADMIN: Final = "admin"
_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz234567"
_CURSOR_SEPARATOR: Final = "::"


def _unavailable() -> AccountError:
    return AccountError("Provided invite code not available", "InvalidInviteCode")


class Invites:
    """Invite codes of the PDS at ``hostname``."""

    def __init__(self, db: Database, hostname: str) -> None:
        self.db = db
        self.hostname = hostname
        self.store = InviteStore()
        self.accounts = AccountStore()

    def new_code(self) -> str:
        """A fresh code."""
        chars = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        return f"{self.hostname.replace('.', '-')}-{chars[:5]}-{chars[5:]}"

    async def create(
        self, accounts: Sequence[str], count: int, uses: int, created_by: str = ADMIN
    ) -> list[tuple[str, list[str]]]:
        """``count`` codes of ``uses`` uses for each of ``accounts``; ``(account, codes)`` pairs."""
        if count < 1 or uses < 1:
            raise AccountError("codeCount and useCount must be positive")
        now = now_us()
        made = [(account, [self.new_code() for _ in range(count)]) for account in accounts]
        rows = [
            InviteCodeRow(code, uses, False, account, created_by, now, 0)
            for account, codes in made
            for code in codes
        ]
        async with self.db.write() as conn:
            await self.store.insert(conn, rows)
        return made

    async def claim(self, conn: AsyncConnection, code: str, did: str) -> None:
        """Count one use of ``code`` by the new account ``did`` (in the creating transaction);
        ``InvalidInviteCode`` if it is unknown, disabled, used up or its owner taken down."""
        await self.ensure_available(conn, code)
        await self.store.record_use(conn, code, did, now_us())

    async def ensure_available(self, conn: AsyncConnection, code: str) -> None:
        """``InvalidInviteCode`` unless ``code`` can be used once more."""
        row = await self.store.get(conn, code)
        if row is None or row.disabled or row.use_count >= row.available_uses:
            raise _unavailable()
        if row.for_account.startswith("did:"):
            owner = await self.accounts.by_did(conn, row.for_account)
            if owner is not None and owner.takedown_ref:
                raise _unavailable()

    async def views(
        self, conn: AsyncConnection, rows: Sequence[InviteCodeRow]
    ) -> list[dict[str, Any]]:
        """``com.atproto.server.defs#inviteCode`` objects for ``rows``, with their uses."""
        uses: dict[str, list[dict[str, Any]]] = {}
        for use in await self.store.uses(conn, [r.code for r in rows]):
            uses.setdefault(use.code, []).append(
                {"usedBy": use.used_by, "usedAt": to_datetime(use.used_at)}
            )
        return [
            {
                "code": r.code,
                "available": r.available_uses,
                "disabled": r.disabled,
                "forAccount": r.for_account,
                "createdBy": r.created_by,
                "createdAt": to_datetime(r.created_at),
                "uses": uses.get(r.code, []),
            }
            for r in rows
        ]

    async def for_accounts(self, dids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """The codes belonging to each of ``dids``."""
        async with self.db.read() as conn:
            rows = await self.store.for_accounts(conn, dids)
            views = await self.views(conn, rows)
        found: dict[str, list[dict[str, Any]]] = {did: [] for did in dids}
        for view in views:
            found[view["forAccount"]].append(view)
        return found

    async def invited_by(self, dids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The code each of ``dids`` signed up with (accounts without one are left out)."""
        async with self.db.read() as conn:
            used = await self.store.codes_used_by(conn, dids)
            rows = await self.store.by_codes(conn, sorted({u.code for u in used}))
            views = {view["code"]: view for view in await self.views(conn, rows)}
        return {u.used_by: views[u.code] for u in used if u.code in views}

    async def disable(self, codes: Sequence[str], accounts: Sequence[str]) -> None:
        """Disable codes by name and every code of ``accounts``."""
        if ADMIN in accounts:
            raise AccountError("cannot disable admin invite codes")
        async with self.db.write() as conn:
            await self.store.disable(conn, codes, accounts)

    async def set_account_invites_disabled(self, did: str, disabled: bool) -> None:
        """Stop (or allow again) an account from getting invite codes."""
        async with self.db.write() as conn:
            await self.accounts.set_fields(conn, did, invites_disabled=disabled)

    async def page(
        self, sort: str, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of every code (``recent`` or ``usage`` order) and the next cursor."""
        if sort not in ("recent", "usage"):
            raise AccountError(f"unknown sort method: {sort}")
        order: InviteSort = "recent" if sort == "recent" else "usage"
        after = _parse_cursor(cursor) if cursor else None
        async with self.db.read() as conn:
            rows = await self.store.page(conn, order, limit, after)
            views = await self.views(conn, rows)
        if not rows:
            return views, None
        last = rows[-1]
        primary = last.created_at if order == "recent" else last.use_count
        return views, f"{primary}{_CURSOR_SEPARATOR}{last.code}"


def _parse_cursor(cursor: str) -> tuple[int, str]:
    primary, separator, code = cursor.partition(_CURSOR_SEPARATOR)
    if not separator or not primary.lstrip("-").isdigit():
        raise AccountError("Malformed cursor")
    return int(primary), code
