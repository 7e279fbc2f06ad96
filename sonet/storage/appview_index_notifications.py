"""AppView index writes of notifications (``notification``; reasons as in the reference AppView)
and the thread-mute lookups that drop a notification about a muted thread."""

from __future__ import annotations

from collections.abc import Sequence

from sonet.storage.appview_steps import Steps, execute, execute_many, fetch_one

__all__ = [
    "NotificationRow",
    "any_thread_mute",
    "delete_notifications",
    "insert_notifications",
    "thread_muted",
]

NotificationRow = tuple[str, str, str, str, str, str | None, str]
"""``(did, record_uri, record_cid, author, reason, reason_subject, sort_at)``."""


def any_thread_mute() -> Steps[bool]:
    """Whether some account muted some thread at all."""
    found = yield from fetch_one("SELECT 1 FROM thread_mute LIMIT 1")
    return found is not None


def thread_muted(did: str, post_uri: str) -> Steps[bool]:
    """Whether ``did`` muted the thread of the indexed post ``post_uri`` (its root, or itself)."""
    found = yield from fetch_one(
        "SELECT 1 FROM thread_mute WHERE muted_by_did = ? AND root_uri = "
        "(SELECT COALESCE(reply_root, uri) FROM post WHERE uri = ?)",
        did,
        post_uri,
    )
    return found is not None


def insert_notifications(rows: Sequence[NotificationRow]) -> Steps[None]:
    """Write notification rows."""
    yield from execute_many(
        "INSERT INTO notification (did, record_uri, record_cid, author, reason, reason_subject, "
        "sort_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def delete_notifications(record_uri: str) -> Steps[None]:
    """Remove the notifications caused by one record."""
    yield from execute("DELETE FROM notification WHERE record_uri = ?", record_uri)
