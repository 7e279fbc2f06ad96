"""The AppView's private mutes (``app.bsky.graph.muteActor`` / ``unmuteActor``): never
records, only the muting account sees them (https://atproto.com/lexicons/app-bsky-graph)."""

from __future__ import annotations

from sonet.storage.appview_read_sql import Steps, execute

__all__ = ["add_mute", "remove_mute"]


def add_mute(
    muter: str, subject: str, created_at: str, *, only_reposts: bool, only_quoteposts: bool
) -> Steps[None]:
    """Mute ``subject`` for ``muter`` (a repeated mute replaces the scope, keeps the date)."""
    yield from execute(
        "INSERT INTO mute (muted_by_did, subject_did, created_at, only_reposts, only_quoteposts) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (muted_by_did, subject_did) DO UPDATE SET "
        "only_reposts = excluded.only_reposts, only_quoteposts = excluded.only_quoteposts",
        muter,
        subject,
        created_at,
        only_reposts,
        only_quoteposts,
    )


def remove_mute(muter: str, subject: str) -> Steps[None]:
    """Unmute ``subject`` for ``muter`` (no-op if it was not muted)."""
    yield from execute(
        "DELETE FROM mute WHERE muted_by_did = ? AND subject_did = ?", muter, subject
    )
