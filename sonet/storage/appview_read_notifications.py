"""AppView reads and writes of notifications and of when they were last seen.

https://atproto.com/lexicons/app-bsky-notification: newest first; as in the reference
AppView, a notification about a subject that is no longer indexed (a like of a deleted post)
is not listed, and the unread count is every notification after the last-seen time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sonet.storage.appview_read_sql import (
    Keyset,
    Page,
    Row,
    Steps,
    execute,
    fetch_all,
    fetch_one,
    marks,
    to_page,
)

__all__ = ["NotificationRow", "last_seen", "notifications_page", "set_last_seen", "unread_count"]


@dataclass(frozen=True, slots=True)
class NotificationRow:
    """One notification of the viewer."""

    id: int
    uri: str
    cid: str
    author: str
    reason: str
    reason_subject: str | None
    sort_at: str


def _row(r: Row) -> NotificationRow:
    return NotificationRow(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6])


def notifications_page(
    did: str, limit: int, after: Keyset | None, reasons: Sequence[str] = ()
) -> Steps[Page[NotificationRow]]:
    """One page of ``did``'s notifications (only ``reasons``, when given), newest first; the
    keyset's key is the notification id."""
    where = ""
    params: list[object] = [did]
    if reasons:
        where += f" AND n.reason IN ({marks(len(reasons))})"
        params += list(reasons)
    if after is not None:
        where += " AND (n.sort_at, n.id) < (?, ?)"
        params += [after.sort_at, int(after.key)]
    rows = yield from fetch_all(
        "SELECT n.id, n.record_uri, n.record_cid, n.author, n.reason, n.reason_subject, "
        "n.sort_at FROM notification n WHERE n.did = ? AND (n.reason_subject IS NULL OR "
        f"EXISTS (SELECT 1 FROM record s WHERE s.uri = n.reason_subject)){where} "
        "ORDER BY n.sort_at DESC, n.id DESC LIMIT ?",
        *params,
        limit + 1,
    )
    return to_page(rows, limit, _row, 6, 0)


def last_seen(did: str) -> Steps[str | None]:
    """When ``did`` last saw its notifications (updateSeen), if ever."""
    row = yield from fetch_one("SELECT last_seen_notifs FROM actor_state WHERE did = ?", did)
    return None if row is None else str(row[0])


def unread_count(did: str, seen: str | None) -> Steps[int]:
    """Notifications of ``did`` newer than ``seen`` whose record is still indexed."""
    row = yield from fetch_one(
        "SELECT COUNT(*) FROM notification n JOIN record r ON r.uri = n.record_uri "
        "WHERE n.did = ? AND n.sort_at > ?",
        did,
        seen or "",
    )
    return int(row[0]) if row is not None else 0


def set_last_seen(did: str, seen_at: str) -> Steps[None]:
    """Record that ``did`` saw its notifications up to ``seen_at``."""
    yield from execute(
        "INSERT INTO actor_state (did, last_seen_notifs) VALUES (?, ?) "
        "ON CONFLICT (did) DO UPDATE SET last_seen_notifs = excluded.last_seen_notifs",
        did,
        seen_at,
    )
