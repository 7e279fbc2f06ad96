"""Brings a PDS database up to date: every PDS storage component's migrations."""

from __future__ import annotations

from sonet.storage import (
    pds_account_store,
    pds_blob_store,
    pds_preference_store,
    pds_repo_store,
    sequencer_store,
)
from sonet.storage.database import Database
from sonet.storage.migrations import migrate

__all__ = ["migrate_pds"]


async def migrate_pds(db: Database) -> None:
    """Apply all pending PDS migrations."""
    await migrate(db, "pds_account", pds_account_store.MIGRATIONS)
    await migrate(db, "pds_repo", pds_repo_store.MIGRATIONS)
    await migrate(db, "pds_sequencer", sequencer_store.MIGRATIONS)
    await migrate(db, "pds_blob", pds_blob_store.MIGRATIONS)
    await migrate(db, "pds_preference", pds_preference_store.MIGRATIONS)
