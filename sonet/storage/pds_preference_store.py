"""Account preferences kept on the PDS (``app.bsky.actor.getPreferences``/``putPreferences``).

One row per stored preference object, in the order it was put; ``name`` is its ``$type`` and
``value_json`` its JSON text. Which rows a put replaces is decided by the caller
(:mod:`sonet.pds.api.preferences`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.migrations import Migration

__all__ = ["MIGRATIONS", "PreferenceRow", "PreferenceStore", "account_pref"]

meta = MetaData()

account_pref = Table(
    "account_pref",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("did", String(2048), nullable=False),
    Column("name", String(512), nullable=False),
    Column("value_json", Text, nullable=False),
    Index("account_pref_did", "did", "id"),
)

MIGRATIONS = [Migration(1, "account preferences", tables=[account_pref])]


@dataclass(frozen=True, slots=True)
class PreferenceRow:
    """One stored preference of an account."""

    id: int
    name: str
    value_json: str


class PreferenceStore:
    """SQL for account preferences."""

    async def list(self, conn: AsyncConnection, did: str) -> list[PreferenceRow]:
        """Every preference of ``did``, in insertion order."""
        q = (
            select(account_pref.c.id, account_pref.c.name, account_pref.c.value_json)
            .where(account_pref.c.did == did)
            .order_by(account_pref.c.id)
        )
        return [PreferenceRow(r.id, r.name, r.value_json) for r in (await conn.execute(q)).all()]

    async def replace(
        self,
        conn: AsyncConnection,
        did: str,
        remove_ids: Collection[int],
        values: Sequence[tuple[str, str]],
    ) -> None:
        """Delete the rows ``remove_ids`` of ``did`` and append ``(name, value_json)`` rows."""
        if remove_ids:
            await conn.execute(
                delete(account_pref).where(
                    account_pref.c.did == did, account_pref.c.id.in_(list(remove_ids))
                )
            )
        if values:
            await conn.execute(
                account_pref.insert(),
                [{"did": did, "name": name, "value_json": value} for name, value in values],
            )

    async def delete_account(self, conn: AsyncConnection, did: str) -> None:
        """Forget every preference of ``did`` (account deletion)."""
        await conn.execute(delete(account_pref).where(account_pref.c.did == did))
