"""AppView reads of the relationships between a viewer and other actors, and blocks between
any two actors (https://atproto.com/lexicons/app-bsky-graph: follows, blocks, list blocks;
mutes are the AppView's private state).

A block through a list (``app.bsky.graph.listblock`` of a moderation list) counts as a block
of each member of the list, in both directions, as the reference AppView applies it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sonet.storage.appview_read_sql import Row, Steps, chunks, fetch_all, fetch_in, flag, marks

__all__ = [
    "KnownFollowers",
    "Relation",
    "block_pairs",
    "known_followers",
    "relations",
]


@dataclass(slots=True)
class Relation:
    """How the viewer relates to one actor (URIs of the records involved)."""

    following: str | None = None
    followed_by: str | None = None
    blocking: str | None = None
    blocked_by: str | None = None
    blocking_by_list: str | None = None
    blocked_by_list: str | None = None
    muted: bool = False
    muted_only_reposts: bool = False
    muted_only_quoteposts: bool = False
    muted_by_list: str | None = None

    @property
    def blocked(self) -> bool:
        """A block in either direction, direct or through a list."""
        return bool(
            self.blocking or self.blocked_by or self.blocking_by_list or self.blocked_by_list
        )

    @property
    def muted_fully(self) -> bool:
        """Muted directly (not only reposts/quotes) or through a muted list."""
        return self.muted or self.muted_by_list is not None


@dataclass(slots=True)
class KnownFollowers:
    """Followers of an actor that the viewer follows: how many, and the first few DIDs."""

    count: int = 0
    dids: list[str] = field(default_factory=list)


def relations(viewer: str, dids: Iterable[str]) -> Steps[dict[str, Relation]]:
    """The viewer's relationship to each of ``dids`` (none at all to itself)."""
    given = list(dict.fromkeys(dids))
    wanted = [d for d in given if d != viewer]
    found = {d: Relation() for d in given}
    if not wanted:
        return found
    for uri, did in (
        yield from fetch_in(
            "SELECT uri, subject_did FROM follow WHERE creator = ? AND subject_did IN ({marks})",
            wanted,
            viewer,
        )
    ):
        found[did].following = uri
    for uri, did in (
        yield from fetch_in(
            "SELECT uri, creator FROM follow WHERE subject_did = ? AND creator IN ({marks})",
            wanted,
            viewer,
        )
    ):
        found[did].followed_by = uri
    for uri, did in (
        yield from fetch_in(
            "SELECT uri, subject_did FROM actor_block WHERE creator = ? "
            "AND subject_did IN ({marks})",
            wanted,
            viewer,
        )
    ):
        found[did].blocking = uri
    for uri, did in (
        yield from fetch_in(
            "SELECT uri, creator FROM actor_block WHERE subject_did = ? AND creator IN ({marks})",
            wanted,
            viewer,
        )
    ):
        found[did].blocked_by = uri
    for list_uri, did in (
        yield from fetch_in(
            "SELECT lb.subject_uri, li.subject_did FROM list_block lb "
            "JOIN list_item li ON li.list_uri = lb.subject_uri "
            "WHERE lb.creator = ? AND li.subject_did IN ({marks})",
            wanted,
            viewer,
        )
    ):
        found[did].blocking_by_list = list_uri
    for list_uri, did in (
        yield from fetch_in(
            "SELECT lb.subject_uri, lb.creator FROM list_block lb "
            "JOIN list_item li ON li.list_uri = lb.subject_uri "
            "WHERE li.subject_did = ? AND lb.creator IN ({marks})",
            wanted,
            viewer,
        )
    ):
        found[did].blocked_by_list = list_uri
    for did, only_reposts, only_quoteposts in (
        yield from fetch_in(
            "SELECT subject_did, only_reposts, only_quoteposts FROM mute "
            "WHERE muted_by_did = ? AND subject_did IN ({marks})",
            wanted,
            viewer,
        )
    ):
        rel = found[did]
        rel.muted_only_reposts = flag(only_reposts)
        rel.muted_only_quoteposts = flag(only_quoteposts)
        rel.muted = not (rel.muted_only_reposts or rel.muted_only_quoteposts)
    for list_uri, did in (
        yield from fetch_in(
            "SELECT lm.list_uri, li.subject_did FROM list_mute lm "
            "JOIN list_item li ON li.list_uri = lm.list_uri "
            "WHERE lm.muted_by_did = ? AND li.subject_did IN ({marks})",
            wanted,
            viewer,
        )
    ):
        found[did].muted_by_list = list_uri
    return found


def block_pairs(dids: Iterable[str]) -> Steps[set[frozenset[str]]]:
    """Every pair among ``dids`` with a block in either direction (direct or by list)."""
    wanted = list(dict.fromkeys(dids))
    if len(wanted) < 2:
        return set()
    pairs: set[frozenset[str]] = set()
    found: list[Row] = []
    for batch in chunks(wanted):
        inner = marks(len(batch))
        outer = marks(len(wanted))
        found += yield from fetch_all(
            f"SELECT creator, subject_did FROM actor_block WHERE creator IN ({inner}) "
            f"AND subject_did IN ({outer})",
            *batch,
            *wanted,
        )
        found += yield from fetch_all(
            "SELECT lb.creator, li.subject_did FROM list_block lb "
            "JOIN list_item li ON li.list_uri = lb.subject_uri "
            f"WHERE lb.creator IN ({inner}) AND li.subject_did IN ({outer})",
            *batch,
            *wanted,
        )
    members = set(wanted)
    for creator, subject in found:
        if subject in members and creator != subject:
            pairs.add(frozenset((str(creator), str(subject))))
    return pairs


def known_followers(
    viewer: str, subjects: Iterable[str], sample: int
) -> Steps[dict[str, KnownFollowers]]:
    """For each subject, the accounts the viewer follows that follow it."""
    wanted = [s for s in dict.fromkeys(subjects) if s != viewer]
    found = {s: KnownFollowers() for s in wanted}
    rows = yield from fetch_in(
        "SELECT f.subject_did, f.creator FROM follow f "
        "JOIN follow v ON v.subject_did = f.creator AND v.creator = ? "
        "WHERE f.subject_did IN ({marks}) ORDER BY f.sort_at DESC",
        wanted,
        viewer,
    )
    for subject, follower in rows:
        known = found[str(subject)]
        known.count += 1
        if len(known.dids) < sample:
            known.dids.append(str(follower))
    return found
