"""What the indexer applies: record writes and deletes grouped by commit, and account changes.

Firehose messages (https://atproto.com/specs/sync#firehose) and repository snapshots (backfill,
``#sync``) are turned into these before indexing; records are already decoded and checked
against their lexicon, so the indexer only writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "INDEXED_COLLECTIONS",
    "AccountChange",
    "CommitItem",
    "IdentityChange",
    "IndexEvent",
    "RecordDelete",
    "RecordWrite",
    "RepoSnapshot",
    "record_uri",
]

INDEXED_COLLECTIONS = frozenset(
    {
        "app.bsky.actor.profile",
        "app.bsky.feed.post",
        "app.bsky.feed.like",
        "app.bsky.feed.repost",
        "app.bsky.feed.threadgate",
        "app.bsky.feed.postgate",
        "app.bsky.feed.generator",
        "app.bsky.graph.follow",
        "app.bsky.graph.block",
        "app.bsky.graph.list",
        "app.bsky.graph.listitem",
        "app.bsky.graph.listblock",
        "app.bsky.graph.starterpack",
    }
)
"""Collections the AppView indexes; records of other collections are ignored."""


def record_uri(did: str, collection: str, rkey: str) -> str:
    """``at://did/collection/rkey``."""
    return f"at://{did}/{collection}/{rkey}"


@dataclass(frozen=True, slots=True)
class RecordWrite:
    """A created or updated record: its CID (base32), DAG-CBOR bytes and decoded value."""

    action: Literal["create", "update"]
    did: str
    collection: str
    rkey: str
    cid: str
    data: bytes
    value: dict[str, Any]

    @property
    def uri(self) -> str:
        """The record's AT-URI."""
        return record_uri(self.did, self.collection, self.rkey)


@dataclass(frozen=True, slots=True)
class RecordDelete:
    """A deleted record."""

    did: str
    collection: str
    rkey: str

    @property
    def uri(self) -> str:
        """The record's AT-URI."""
        return record_uri(self.did, self.collection, self.rkey)


@dataclass(frozen=True, slots=True)
class CommitItem:
    """The indexed-collection operations of one commit, in commit order. ``time`` is the
    event's timestamp (the ``indexed_at`` of its records)."""

    seq: int | None
    did: str
    rev: str
    commit_cid: str
    time: str
    ops: list[RecordWrite | RecordDelete] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RepoSnapshot:
    """Every indexed-collection record of a repository at ``rev`` (backfill or ``#sync``): the
    index is brought to exactly this set (creates, updates and deletes as needed)."""

    seq: int | None
    did: str
    rev: str
    commit_cid: str
    time: str
    records: dict[str, RecordWrite]
    """Keyed by AT-URI; ``action`` is ignored."""


@dataclass(frozen=True, slots=True)
class IdentityChange:
    """``#identity``: the actor's handle must be resolved again (done outside the batch)."""

    seq: int | None
    did: str


@dataclass(frozen=True, slots=True)
class AccountChange:
    """``#account``: ``status`` None when active; ``deleted`` removes the actor's content."""

    seq: int | None
    did: str
    active: bool
    status: str | None


IndexEvent = CommitItem | RepoSnapshot | IdentityChange | AccountChange
