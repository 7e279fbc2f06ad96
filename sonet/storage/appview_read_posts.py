"""AppView reads of posts and what hangs off them: counts, the viewer's likes and reposts,
thread and post gates, reposts and likes by URI.

https://atproto.com/lexicons/app-bsky-feed. A record taken down by the AppView is left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sonet.storage.appview_read_sql import (
    Row,
    Steps,
    by_key,
    decode_record,
    fetch_in,
    fetch_in_union,
    flag,
)

__all__ = [
    "GateRow",
    "LikeRow",
    "PostAgg",
    "PostRow",
    "PostViewer",
    "RecordRow",
    "RepostRow",
    "gates",
    "likes",
    "post_aggs",
    "post_viewers",
    "posts",
    "records",
    "records_by",
    "reposts",
]


@dataclass(frozen=True, slots=True)
class PostRow:
    """An indexed post with its record and the flags the indexer set."""

    uri: str
    cid: str
    creator: str
    record: dict[str, Any]
    reply_root: str | None
    reply_parent: str | None
    embed_uri: str | None
    violates_thread_gate: bool
    violates_embedding_rules: bool
    has_thread_gate: bool
    has_post_gate: bool
    sort_at: str


@dataclass(frozen=True, slots=True)
class RecordRow:
    """Any indexed record: its CID and value."""

    cid: str
    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PostAgg:
    """Counts of a post (or of any record liked: feed generators, lists)."""

    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0


@dataclass(frozen=True, slots=True)
class PostViewer:
    """The viewer's like and repost of a post, and whether it muted the post's thread."""

    like: str | None = None
    repost: str | None = None
    thread_muted: bool = False


@dataclass(frozen=True, slots=True)
class GateRow:
    """A threadgate or postgate record."""

    uri: str
    cid: str
    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RepostRow:
    """An indexed repost."""

    uri: str
    cid: str
    creator: str
    subject: str
    sort_at: str


@dataclass(frozen=True, slots=True)
class LikeRow:
    """An indexed like."""

    uri: str
    cid: str
    creator: str
    subject: str
    created_at: str
    sort_at: str


_POSTS = (
    "SELECT p.uri, p.cid, p.creator, r.data, p.reply_root, p.reply_parent, p.embed_uri, "
    "p.violates_thread_gate, p.violates_embedding_rules, p.has_thread_gate, p.has_post_gate, "
    "p.sort_at, a.like_count, a.repost_count, a.reply_count, a.quote_count "
    "FROM post p JOIN record r ON r.uri = p.uri LEFT JOIN post_agg a ON a.uri = p.uri "
    "WHERE p.uri IN ({marks}) AND r.takedown_ref IS NULL"
)


def _post(r: Row) -> PostRow:
    return PostRow(
        uri=r[0],
        cid=r[1],
        creator=r[2],
        record=decode_record(r[3]),
        reply_root=r[4],
        reply_parent=r[5],
        embed_uri=r[6],
        violates_thread_gate=flag(r[7]),
        violates_embedding_rules=flag(r[8]),
        has_thread_gate=flag(r[9]),
        has_post_gate=flag(r[10]),
        sort_at=r[11],
    )


def posts(uris: Iterable[str]) -> Steps[tuple[dict[str, PostRow], dict[str, PostAgg]]]:
    """The indexed, visible posts among ``uris``, and the counts of those that have any (one
    statement)."""
    rows = yield from fetch_in(_POSTS, uris)
    aggs = {
        str(r[0]): PostAgg(int(r[12]), int(r[13]), int(r[14]), int(r[15]))
        for r in rows
        if r[12] is not None
    }
    return by_key(rows, _post), aggs


def post_aggs(uris: Iterable[str]) -> Steps[dict[str, PostAgg]]:
    """Like, repost, reply and quote counts (absent: all zero)."""
    rows = yield from fetch_in(
        "SELECT uri, like_count, repost_count, reply_count, quote_count FROM post_agg "
        "WHERE uri IN ({marks})",
        uris,
    )
    return by_key(rows, lambda r: PostAgg(int(r[1]), int(r[2]), int(r[3]), int(r[4])))


_VIEWER_STATE = (
    'SELECT 0, subject, uri FROM "like" WHERE creator = ? AND subject IN ({marks})',
    "SELECT 1, subject, uri FROM repost WHERE creator = ? AND subject IN ({marks})",
    "SELECT 2, root_uri, root_uri FROM thread_mute WHERE muted_by_did = ? "
    "AND root_uri IN ({marks})",
)


def post_viewers(
    viewer: str, uris: Iterable[str], roots: dict[str, str]
) -> Steps[dict[str, PostViewer]]:
    """The viewer's like/repost of each of ``uris``; ``roots`` maps a post to its thread root
    (for thread mutes). One statement."""
    wanted = list(dict.fromkeys(uris))
    liked: dict[str, str] = {}
    reposted: dict[str, str] = {}
    muted: set[str] = set()
    like, repost, mute = _VIEWER_STATE
    rows = yield from fetch_in_union(
        [(like, (viewer,), wanted), (repost, (viewer,), wanted), (mute, (viewer,), roots.values())]
    )
    for kind, subject, uri in rows:
        if kind == 0:
            liked[str(subject)] = str(uri)
        elif kind == 1:
            reposted[str(subject)] = str(uri)
        else:
            muted.add(str(subject))
    return {
        uri: PostViewer(liked.get(uri), reposted.get(uri), roots.get(uri, uri) in muted)
        for uri in wanted
    }


def records(uris: Iterable[str]) -> Steps[dict[str, RecordRow]]:
    """Indexed, visible records of any collection by URI."""
    rows = yield from fetch_in(
        "SELECT uri, cid, data FROM record WHERE uri IN ({marks}) AND takedown_ref IS NULL", uris
    )
    return by_key(rows, lambda r: RecordRow(str(r[1]), decode_record(r[2])))


def records_by(
    table: Literal["like", "repost"], creator: str, subjects: Iterable[str]
) -> Steps[dict[str, str]]:
    """``subject -> URI`` of ``creator``'s likes or reposts of ``subjects``."""
    rows = yield from fetch_in(
        f'SELECT subject, uri FROM "{table}" WHERE creator = ? AND subject IN ({{marks}})',
        subjects,
        creator,
    )
    return {str(s): str(u) for s, u in rows}


def gates(table: str, post_uris: Iterable[str]) -> Steps[dict[str, GateRow]]:
    """The ``thread_gate`` or ``post_gate`` records of posts, keyed by post URI."""
    if table not in ("thread_gate", "post_gate"):
        raise ValueError(f"not a gate table: {table!r}")
    rows = yield from fetch_in(
        f"SELECT g.post_uri, g.uri, g.cid, r.data FROM {table} g JOIN record r ON r.uri = g.uri "
        "WHERE g.post_uri IN ({marks})",
        post_uris,
    )
    return by_key(rows, lambda r: GateRow(r[1], r[2], decode_record(r[3])))


def reposts(uris: Iterable[str]) -> Steps[dict[str, RepostRow]]:
    """Indexed reposts by URI."""
    rows = yield from fetch_in(
        "SELECT uri, cid, creator, subject, sort_at FROM repost WHERE uri IN ({marks})", uris
    )
    return by_key(rows, lambda r: RepostRow(r[0], r[1], r[2], r[3], r[4]))


def likes(uris: Iterable[str]) -> Steps[dict[str, LikeRow]]:
    """Indexed likes by URI."""
    rows = yield from fetch_in(
        'SELECT uri, cid, creator, subject, created_at, sort_at FROM "like" WHERE uri IN ({marks})',
        uris,
    )
    return by_key(rows, lambda r: LikeRow(r[0], r[1], r[2], r[3], r[4], r[5]))
