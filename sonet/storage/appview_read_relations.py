"""AppView reads of the relationships between a viewer and other actors, and blocks between
any two actors (https://atproto.com/lexicons/app-bsky-graph: follows, blocks, list blocks;
mutes are the AppView's private state).

A block through a list (``app.bsky.graph.listblock`` of a moderation list) counts as a block
of each member of the list, in both directions, as the reference AppView applies it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sonet.storage.appview_read_sql import (
    Row,
    Steps,
    chunks,
    fetch_all,
    fetch_in,
    fetch_in_union,
    marks,
    padded,
)

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


_LIST_BLOCK = "FROM list_block lb JOIN list_item li ON li.list_uri = lb.subject_uri "
_RELATIONS = (
    "SELECT 0, uri, subject_did, 0 FROM follow WHERE creator = ? AND subject_did IN ({marks})",
    "SELECT 1, uri, creator, 0 FROM follow WHERE subject_did = ? AND creator IN ({marks})",
    "SELECT 2, uri, subject_did, 0 FROM actor_block WHERE creator = ? AND subject_did IN ({marks})",
    "SELECT 3, uri, creator, 0 FROM actor_block WHERE subject_did = ? AND creator IN ({marks})",
    f"SELECT 4, lb.subject_uri, li.subject_did, 0 {_LIST_BLOCK}"
    "WHERE lb.creator = ? AND li.subject_did IN ({marks})",
    f"SELECT 5, lb.subject_uri, lb.creator, 0 {_LIST_BLOCK}"
    "WHERE li.subject_did = ? AND lb.creator IN ({marks})",
    "SELECT 6, NULL, subject_did, CASE WHEN only_reposts THEN 1 ELSE 0 END "
    "+ CASE WHEN only_quoteposts THEN 2 ELSE 0 END FROM mute "
    "WHERE muted_by_did = ? AND subject_did IN ({marks})",
    "SELECT 7, lm.list_uri, li.subject_did, 0 FROM list_mute lm "
    "JOIN list_item li ON li.list_uri = lm.list_uri "
    "WHERE lm.muted_by_did = ? AND li.subject_did IN ({marks})",
)
"""What a viewer's relationship to actors is made of, one ``(kind, uri, did, mute flags)``
query each, sent together: follows either way, blocks either way (direct and through a
list), mutes (flags 1: reposts only, 2: quote posts only) and mutes through a list."""
_RELATION_FIELDS = (
    "following",
    "followed_by",
    "blocking",
    "blocked_by",
    "blocking_by_list",
    "blocked_by_list",
)


def relations(viewer: str, dids: Iterable[str]) -> Steps[dict[str, Relation]]:
    """The viewer's relationship to each of ``dids`` (none at all to itself), read in one
    statement."""
    given = list(dict.fromkeys(dids))
    wanted = [d for d in given if d != viewer]
    found = {d: Relation() for d in given}
    if not wanted:
        return found
    rows = yield from fetch_in_union([(sql, (viewer,), wanted) for sql in _RELATIONS])
    for kind, uri, did, mute in rows:
        rel = found[did]
        if kind < 6:
            setattr(rel, _RELATION_FIELDS[kind], uri)
        elif kind == 6:
            rel.muted_only_reposts = bool(mute & 1)
            rel.muted_only_quoteposts = bool(mute & 2)
            rel.muted = not (rel.muted_only_reposts or rel.muted_only_quoteposts)
        else:
            rel.muted_by_list = uri
    return found


def block_pairs(dids: Iterable[str]) -> Steps[set[frozenset[str]]]:
    """Every pair among ``dids`` with a block in either direction (direct or by list)."""
    wanted = list(dict.fromkeys(dids))
    if len(wanted) < 2:
        return set()
    pairs: set[frozenset[str]] = set()
    found: list[Row] = []
    for batch in chunks(wanted):
        inner = padded(batch)
        outer = padded(wanted)
        lists = f"{marks(len(inner))}) AND {{col}} IN ({marks(len(outer))})"
        found += yield from fetch_all(
            "SELECT creator, subject_did FROM actor_block WHERE creator IN ("
            + lists.format(col="subject_did")
            + " UNION ALL SELECT lb.creator, li.subject_did "
            + _LIST_BLOCK
            + "WHERE lb.creator IN ("
            + lists.format(col="li.subject_did"),
            *inner,
            *outer,
            *inner,
            *outer,
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
