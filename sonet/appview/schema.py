"""Brings an AppView database up to date: every AppView storage component's migrations."""

from __future__ import annotations

from sonet.storage import (
    appview_actor_tables,
    appview_feed_tables,
    appview_graph_tables,
    appview_notification_tables,
    appview_record_tables,
    appview_timeline_tables,
)
from sonet.storage.database import Database
from sonet.storage.migrations import migrate

__all__ = ["migrate_appview"]


async def migrate_appview(db: Database) -> None:
    """Apply all pending AppView migrations."""
    await migrate(db, "appview_record", appview_record_tables.MIGRATIONS)
    await migrate(db, "appview_actor", appview_actor_tables.MIGRATIONS)
    await migrate(db, "appview_feed", appview_feed_tables.MIGRATIONS)
    await migrate(db, "appview_graph", appview_graph_tables.MIGRATIONS)
    await migrate(db, "appview_notification", appview_notification_tables.MIGRATIONS)
    await migrate(db, "appview_timeline", appview_timeline_tables.MIGRATIONS)
