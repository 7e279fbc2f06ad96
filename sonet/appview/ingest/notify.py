"""Notification rows written and removed by the indexers.

Reasons and recipients follow the reference AppView (like, repost, follow, mention, reply, quote,
like-via-repost, repost-via-repost, starterpack-joined). Never for self-actions. A notification
about a post in a thread the recipient muted (``thread_mute`` on the thread's root) is dropped,
as the reference does; blocks and mutes of the author are applied when notifications are read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sonet.appview.ingest.context import BatchContext
from sonet.storage.appview_index_notifications import (
    NotificationRow,
    delete_notifications,
    insert_notifications,
    thread_muted,
)
from sonet.storage.appview_steps import Steps

__all__ = ["Notif", "delete_notifs", "insert_notifs", "uri_did"]


def uri_did(uri: str) -> str:
    """The authority (DID) of an ``at://`` URI (empty if it is not one)."""
    if not uri.startswith("at://"):
        return ""
    return uri[5:].split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class Notif:
    """One notification of ``did`` about ``record_uri`` by ``author``."""

    did: str
    author: str
    record_uri: str
    record_cid: str
    reason: str
    reason_subject: str | None
    sort_at: str


def insert_notifs(ctx: BatchContext, notifs: Iterable[Notif]) -> Steps[None]:
    """Write notifications, skipping self-notifications and those in muted threads."""
    rows: list[NotificationRow] = []
    for n in notifs:
        if n.did == n.author or not n.did:
            continue
        subject = n.reason_subject
        if (
            subject is not None
            and subject.startswith("at://")
            and (yield from ctx.any_thread_mutes())
            and (yield from thread_muted(n.did, subject))
        ):
            continue
        rows.append(
            (n.did, n.record_uri, n.record_cid, n.author, n.reason, n.reason_subject, n.sort_at)
        )
    yield from insert_notifications(rows)


def delete_notifs(record_uris: Iterable[str]) -> Steps[None]:
    """Remove the notifications caused by these records."""
    for uri in record_uris:
        yield from delete_notifications(uri)
