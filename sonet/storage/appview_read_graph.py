"""AppView reads of the social graph and of lists, feed generators and starter packs.

https://atproto.com/lexicons/app-bsky-graph and ``app.bsky.feed.generator``. Listings are
newest first with keyset pages (:class:`~sonet.storage.appview_read_sql.Keyset`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sonet.storage.appview_read_sql import (
    Keyset,
    Page,
    Row,
    Steps,
    by_key,
    decode_record,
    fetch_all,
    fetch_in,
    keyset_sql,
    to_page,
)

__all__ = [
    "EdgeRow",
    "FeedgenRow",
    "ListRow",
    "ListViewer",
    "StarterPackRow",
    "actor_feeds_page",
    "actor_lists_page",
    "blocks_page",
    "feed_generators",
    "followers_page",
    "follows_page",
    "list_item_counts",
    "list_members_page",
    "list_viewers",
    "lists",
    "mutes_page",
    "starter_packs",
]


@dataclass(frozen=True, slots=True)
class EdgeRow:
    """A follow, block or list item: its URI and the two actors it links."""

    uri: str
    creator: str
    subject: str
    sort_at: str


@dataclass(frozen=True, slots=True)
class ListRow:
    """An ``app.bsky.graph.list`` record."""

    uri: str
    cid: str
    creator: str
    name: str
    purpose: str
    avatar_cid: str | None
    record: dict[str, Any]
    sort_at: str


@dataclass(frozen=True, slots=True)
class ListViewer:
    """The viewer's mute and block of a list, and whether the viewer is a member."""

    muted: bool = False
    blocked: str | None = None
    member: bool = False


@dataclass(frozen=True, slots=True)
class FeedgenRow:
    """An ``app.bsky.feed.generator`` record."""

    uri: str
    cid: str
    creator: str
    feed_did: str
    display_name: str
    avatar_cid: str | None
    record: dict[str, Any]
    sort_at: str


@dataclass(frozen=True, slots=True)
class StarterPackRow:
    """An ``app.bsky.graph.starterpack`` record."""

    uri: str
    cid: str
    creator: str
    record: dict[str, Any]
    sort_at: str


def _edge(r: Row) -> EdgeRow:
    return EdgeRow(str(r[0]), str(r[1]), str(r[2]), str(r[3]))


def _edges(
    table: str, where: str, value: str, limit: int, after: Keyset | None
) -> Steps[Page[EdgeRow]]:
    clause, order, params = keyset_sql(after, "sort_at", "uri")
    rows = yield from fetch_all(
        f"SELECT uri, creator, subject_did, sort_at FROM {table} WHERE {where} = ?{clause}{order}",
        value,
        *params,
        limit + 1,
    )
    return to_page(rows, limit, _edge, 3, 0)


def followers_page(did: str, limit: int, after: Keyset | None) -> Steps[Page[EdgeRow]]:
    """Follows of ``did``, newest first."""
    return (yield from _edges("follow", "subject_did", did, limit, after))


def follows_page(did: str, limit: int, after: Keyset | None) -> Steps[Page[EdgeRow]]:
    """Follows by ``did``, newest first."""
    return (yield from _edges("follow", "creator", did, limit, after))


def blocks_page(did: str, limit: int, after: Keyset | None) -> Steps[Page[EdgeRow]]:
    """Blocks by ``did``, newest first."""
    return (yield from _edges("actor_block", "creator", did, limit, after))


def mutes_page(did: str, limit: int, after: Keyset | None) -> Steps[Page[str]]:
    """DIDs ``did`` muted fully (not only reposts or quotes), newest first."""
    clause, order, params = keyset_sql(after, "created_at", "subject_did")
    rows = yield from fetch_all(
        "SELECT subject_did, created_at FROM mute WHERE muted_by_did = ? "
        f"AND only_reposts = ? AND only_quoteposts = ?{clause}{order}",
        did,
        False,
        False,
        *params,
        limit + 1,
    )
    return to_page(rows, limit, lambda r: str(r[0]), 1, 0)


def list_members_page(list_uri: str, limit: int, after: Keyset | None) -> Steps[Page[EdgeRow]]:
    """Items of a list, newest first (``subject`` is the member)."""
    clause, order, params = keyset_sql(after, "sort_at", "uri")
    rows = yield from fetch_all(
        "SELECT uri, creator, subject_did, sort_at FROM list_item "
        f"WHERE list_uri = ?{clause}{order}",
        list_uri,
        *params,
        limit + 1,
    )
    return to_page(rows, limit, _edge, 3, 0)


def _uris_by_creator(table: str, did: str, limit: int, after: Keyset | None) -> Steps[Page[str]]:
    clause, order, params = keyset_sql(after, "sort_at", "uri")
    rows = yield from fetch_all(
        f'SELECT uri, sort_at FROM "{table}" WHERE creator = ?{clause}{order}',
        did,
        *params,
        limit + 1,
    )
    return to_page(rows, limit, lambda r: str(r[0]), 1, 0)


def actor_lists_page(did: str, limit: int, after: Keyset | None) -> Steps[Page[str]]:
    """URIs of the lists ``did`` made, newest first."""
    return (yield from _uris_by_creator("list", did, limit, after))


def actor_feeds_page(did: str, limit: int, after: Keyset | None) -> Steps[Page[str]]:
    """URIs of the feed generators ``did`` declared, newest first."""
    return (yield from _uris_by_creator("feed_generator", did, limit, after))


def lists(uris: Iterable[str]) -> Steps[dict[str, ListRow]]:
    """Indexed, visible lists by URI."""
    rows = yield from fetch_in(
        "SELECT l.uri, l.cid, l.creator, l.name, l.purpose, l.avatar_cid, r.data, l.sort_at "
        'FROM "list" l JOIN record r ON r.uri = l.uri '
        "WHERE l.uri IN ({marks}) AND r.takedown_ref IS NULL",
        uris,
    )
    return by_key(
        rows, lambda r: ListRow(r[0], r[1], r[2], r[3], r[4], r[5], decode_record(r[6]), r[7])
    )


def list_item_counts(uris: Iterable[str]) -> Steps[dict[str, int]]:
    """Number of members of each list."""
    rows = yield from fetch_in(
        "SELECT list_uri, COUNT(*) FROM list_item WHERE list_uri IN ({marks}) GROUP BY list_uri",
        uris,
    )
    return by_key(rows, lambda r: int(r[1]))


def list_viewers(viewer: str, uris: Iterable[str]) -> Steps[dict[str, ListViewer]]:
    """The viewer's mute, block and membership of each list."""
    wanted = list(dict.fromkeys(uris))
    muted = {
        str(r[0])
        for r in (
            yield from fetch_in(
                "SELECT list_uri FROM list_mute WHERE muted_by_did = ? AND list_uri IN ({marks})",
                wanted,
                viewer,
            )
        )
    }
    blocked = {
        str(r[0]): str(r[1])
        for r in (
            yield from fetch_in(
                "SELECT subject_uri, uri FROM list_block WHERE creator = ? "
                "AND subject_uri IN ({marks})",
                wanted,
                viewer,
            )
        )
    }
    member = {
        str(r[0])
        for r in (
            yield from fetch_in(
                "SELECT list_uri FROM list_item WHERE subject_did = ? AND list_uri IN ({marks})",
                wanted,
                viewer,
            )
        )
    }
    return {u: ListViewer(u in muted, blocked.get(u), u in member) for u in wanted}


def feed_generators(uris: Iterable[str]) -> Steps[dict[str, FeedgenRow]]:
    """Indexed, visible feed generators by URI."""
    rows = yield from fetch_in(
        "SELECT g.uri, g.cid, g.creator, g.feed_did, g.display_name, g.avatar_cid, r.data, "
        "g.sort_at FROM feed_generator g JOIN record r ON r.uri = g.uri "
        "WHERE g.uri IN ({marks}) AND r.takedown_ref IS NULL",
        uris,
    )
    return by_key(
        rows,
        lambda r: FeedgenRow(r[0], r[1], r[2], r[3], r[4], r[5], decode_record(r[6]), r[7]),
    )


def starter_packs(uris: Iterable[str]) -> Steps[dict[str, StarterPackRow]]:
    """Indexed, visible starter packs by URI."""
    rows = yield from fetch_in(
        "SELECT s.uri, s.cid, s.creator, r.data, s.sort_at FROM starter_pack s "
        "JOIN record r ON r.uri = s.uri WHERE s.uri IN ({marks}) AND r.takedown_ref IS NULL",
        uris,
    )
    return by_key(rows, lambda r: StarterPackRow(r[0], r[1], r[2], decode_record(r[3]), r[4]))
