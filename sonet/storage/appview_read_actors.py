"""AppView reads of actors: handles, profiles, counts, actor search and follow suggestions.

An actor whose account is not hosted (``upstream_status`` set: deactivated, taken down,
suspended) or taken down by the AppView is returned with ``hidden`` set; views treat it as
absent, as the reference AppView does (https://atproto.com/specs/account#account-status). A
profile record taken down by the AppView is left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sonet.storage.appview_read_sql import (
    Row,
    Steps,
    by_key,
    decode_record,
    fetch_all,
    fetch_in,
    fetch_one,
)

__all__ = [
    "ActorRow",
    "ProfileAgg",
    "ProfileRow",
    "actor_by_handle",
    "actors",
    "dids_by_handle",
    "popular_actors",
    "profile_aggs",
    "repo_rev",
    "search_actors_by_prefix",
    "suggested_actors",
]


@dataclass(frozen=True, slots=True)
class ProfileRow:
    """An ``app.bsky.actor.profile`` record and its indexed fields."""

    uri: str
    cid: str
    record: dict[str, Any]
    display_name: str | None
    description: str | None
    avatar_cid: str | None
    banner_cid: str | None
    pinned_post_uri: str | None
    pinned_post_cid: str | None
    joined_via_starter_pack_uri: str | None
    sort_at: str


@dataclass(frozen=True, slots=True)
class ActorRow:
    """An indexed actor; ``hidden``: not hosted or taken down (views show nothing of it)."""

    did: str
    handle: str | None
    upstream_status: str | None
    hidden: bool
    profile: ProfileRow | None


@dataclass(frozen=True, slots=True)
class ProfileAgg:
    """Counts shown on a detailed profile."""

    followers: int = 0
    follows: int = 0
    posts: int = 0
    lists: int = 0
    feedgens: int = 0
    starter_packs: int = 0


_ACTORS = (
    "SELECT a.did, a.handle, a.upstream_status, a.takedown_ref, p.uri, p.cid, r.data, "
    "p.display_name, p.description, p.avatar_cid, p.banner_cid, p.pinned_post_uri, "
    "p.pinned_post_cid, p.joined_via_starter_pack_uri, p.sort_at, r.takedown_ref "
    "FROM actor a LEFT JOIN profile p ON p.creator = a.did "
    "LEFT JOIN record r ON r.uri = p.uri WHERE a.did IN ({marks})"
)


def _actor(r: Row) -> ActorRow:
    profile = None
    if r[4] is not None and r[6] is not None and r[15] is None:
        profile = ProfileRow(
            uri=r[4],
            cid=r[5],
            record=decode_record(r[6]),
            display_name=r[7],
            description=r[8],
            avatar_cid=r[9],
            banner_cid=r[10],
            pinned_post_uri=r[11],
            pinned_post_cid=r[12],
            joined_via_starter_pack_uri=r[13],
            sort_at=r[14],
        )
    return ActorRow(
        did=r[0],
        handle=r[1],
        upstream_status=r[2],
        hidden=r[2] is not None or r[3] is not None,
        profile=profile,
    )


def actors(dids: Iterable[str]) -> Steps[dict[str, ActorRow]]:
    """The indexed actors among ``dids`` (unknown DIDs are absent)."""
    rows = yield from fetch_in(_ACTORS, dids)
    return by_key(rows, _actor)


def dids_by_handle(handles: Iterable[str]) -> Steps[dict[str, str]]:
    """``handle -> DID`` for the (lowercase) handles that an indexed actor holds."""
    rows = yield from fetch_in("SELECT handle, did FROM actor WHERE handle IN ({marks})", handles)
    return {str(h): str(d) for h, d in rows}


def actor_by_handle(handle: str) -> Steps[str | None]:
    """The DID holding ``handle``, if any."""
    row = yield from fetch_one("SELECT did FROM actor WHERE handle = ?", handle.lower())
    return None if row is None else str(row[0])


def repo_rev(did: str) -> Steps[str | None]:
    """The last repo revision of ``did`` the index reached (None if unknown)."""
    row = yield from fetch_one("SELECT repo_rev FROM actor WHERE did = ?", did)
    return None if row is None or row[0] is None else str(row[0])


def profile_aggs(dids: Iterable[str]) -> Steps[dict[str, ProfileAgg]]:
    """Follower, follow, post, list, feed generator and starter pack counts."""
    wanted = list(dict.fromkeys(dids))
    base = yield from fetch_in(
        "SELECT did, followers_count, follows_count, posts_count FROM profile_agg "
        "WHERE did IN ({marks})",
        wanted,
    )
    counted: dict[str, dict[str, int]] = {d: {} for d in wanted}
    for table, name in (("list", "lists"), ("feed_generator", "feedgens")):
        for did, n in (
            yield from fetch_in(
                f'SELECT creator, COUNT(*) FROM "{table}" WHERE creator IN ({{marks}}) '
                "GROUP BY creator",
                wanted,
            )
        ):
            counted[str(did)][name] = int(n)
    for did, n in (
        yield from fetch_in(
            "SELECT creator, COUNT(*) FROM starter_pack WHERE creator IN ({marks}) "
            "GROUP BY creator",
            wanted,
        )
    ):
        counted[str(did)]["starter_packs"] = int(n)
    for did, followers, follows, posts in base:
        counted[str(did)].update(followers=followers, follows=follows, posts=posts)
    return {did: ProfileAgg(**values) for did, values in counted.items()}


def search_actors_by_prefix(term: str, limit: int, offset: int) -> Steps[list[str]]:
    """DIDs of visible actors whose handle or display name starts with ``term`` (used when no
    search index is configured); handle matches first."""
    prefix = term.lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
    rows = yield from fetch_all(
        "SELECT a.did FROM actor a LEFT JOIN profile p ON p.creator = a.did "
        "WHERE a.upstream_status IS NULL AND a.takedown_ref IS NULL "
        "AND (a.handle LIKE ? OR LOWER(p.display_name) LIKE ?) "
        "ORDER BY CASE WHEN a.handle LIKE ? THEN 0 ELSE 1 END, a.handle LIMIT ? OFFSET ?",
        prefix,
        prefix,
        prefix,
        limit,
        offset,
    )
    return [str(r[0]) for r in rows]


def popular_actors(limit: int, offset: int) -> Steps[list[str]]:
    """The most-followed visible actors."""
    rows = yield from fetch_all(
        "SELECT g.did FROM profile_agg g JOIN actor a ON a.did = g.did "
        "WHERE a.upstream_status IS NULL AND a.takedown_ref IS NULL "
        "ORDER BY g.followers_count DESC, g.did LIMIT ? OFFSET ?",
        limit,
        offset,
    )
    return [str(r[0]) for r in rows]


def suggested_actors(viewer: str, limit: int, offset: int) -> Steps[list[str]]:
    """Accounts followed by the accounts ``viewer`` follows, most shared first, that the viewer
    does not follow yet; then the most-followed accounts."""
    rows = yield from fetch_all(
        "SELECT f2.subject_did FROM follow f1 JOIN follow f2 ON f2.creator = f1.subject_did "
        "JOIN actor a ON a.did = f2.subject_did "
        "WHERE f1.creator = ? AND f2.subject_did <> ? "
        "AND a.upstream_status IS NULL AND a.takedown_ref IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM follow f3 WHERE f3.creator = ? "
        "AND f3.subject_did = f2.subject_did) "
        "GROUP BY f2.subject_did ORDER BY COUNT(*) DESC, f2.subject_did LIMIT ? OFFSET ?",
        viewer,
        viewer,
        viewer,
        limit,
        offset,
    )
    return [str(r[0]) for r in rows]
