"""``app.bsky.notification.listNotifications#notification`` views and the rules that hide
notifications, as the reference AppView applies them.

https://atproto.com/lexicons/app-bsky-notification: a notification shows its author's profile
and the record that caused it; it is left out when that record or author is gone, when the
viewer blocks or mutes the author, or when it is a reply the viewer hid with the thread's
gate. ``isRead``: the notification is older than the last-seen time.
"""

from __future__ import annotations

from typing import Any

from sonet.appview.ingest.notify import uri_did
from sonet.appview.views.labels import self_labels
from sonet.appview.views.profiles import profile, viewer_block_exists, viewer_mute_exists
from sonet.appview.views.state import HydrationState
from sonet.storage.appview_read_notifications import NotificationRow

__all__ = ["notification_hidden", "notification_view"]


def notification_hidden(state: HydrationState, notif: NotificationRow) -> bool:
    """Whether the viewer must not see ``notif``."""
    author = uri_did(notif.uri)
    if viewer_block_exists(state, author) or viewer_mute_exists(state, author):
        return True
    if notif.reason == "reply":
        post = state.posts.get(notif.uri)
        root = post.reply_root if post is not None else None
        if root is not None and uri_did(root) == state.viewer:
            gate = state.threadgates.get(root)
            hidden = gate.record.get("hiddenReplies") if gate is not None else None
            if isinstance(hidden, list) and notif.uri in hidden:
                return True
    return False


def notification_view(
    state: HydrationState, notif: NotificationRow, last_seen: str | None
) -> dict[str, Any] | None:
    """The view of ``notif``, or None when its author or record is gone."""
    author = profile(state, uri_did(notif.uri))
    if author is None:
        return None
    post = state.posts.get(notif.uri)
    found = state.records.get(notif.uri)
    if post is not None:
        cid, record = post.cid, post.record
    elif found is not None and "/app.bsky.feed.post/" not in notif.uri:
        cid, record = found.cid, found.record
    else:
        return None
    view: dict[str, Any] = {
        "uri": notif.uri,
        "cid": cid,
        "author": author,
        "reason": notif.reason,
    }
    if notif.reason_subject:
        view["reasonSubject"] = notif.reason_subject
    view["record"] = record
    view["isRead"] = last_seen > notif.sort_at if last_seen else True
    view["indexedAt"] = notif.sort_at
    view["labels"] = self_labels(notif.uri, cid, record)
    return view
