"""AppView reads of feeds and threads: author feeds with their filters, an actor's likes,
likes/reposts/quotes of a post, and the posts around a thread anchor.

https://atproto.com/lexicons/app-bsky-feed (``getAuthorFeed``, ``getActorLikes``,
``getLikes``, ``getRepostedBy``, ``getQuotes``, ``getPostThread``), following the reference
AppView's queries: an author feed holds the actor's posts and reposts (of indexed posts), the
media filters keep the actor's own posts with images / video (also inside a recordWithMedia),
``posts_and_author_threads`` keeps replies only within threads the actor started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

from sonet.storage.appview_read_sql import (
    Keyset,
    Page,
    Row,
    Steps,
    fetch_all,
    keyset_sql,
    to_page,
)

__all__ = [
    "MAX_THREAD_REPLIES",
    "AuthorFilter",
    "FeedItemRef",
    "SubjectRef",
    "actor_likes_page",
    "author_feed_page",
    "quotes_page",
    "subject_page",
    "thread_ancestors",
    "thread_descendants",
]

MAX_THREAD_REPLIES: Final = 2000
"""Most replies below an anchor that one thread view looks at (the newest ones)."""

AuthorFilter = Literal[
    "posts_with_replies",
    "posts_no_replies",
    "posts_with_media",
    "posts_and_author_threads",
    "posts_with_video",
]


class FeedItemRef(NamedTuple):
    """A feed item: a post, or a repost (``repost`` is then the repost's URI). A named tuple:
    built a third faster than a frozen dataclass (a timeline page reads a thousand)."""

    post: str
    repost: str | None
    sort_at: str


@dataclass(frozen=True, slots=True)
class SubjectRef:
    """A like, repost or quote of a subject: its URI, author and time."""

    uri: str
    creator: str
    sort_at: str


def feed_item(r: Row) -> FeedItemRef:
    """``(uri, post_uri, sort_at)`` row -> :class:`FeedItemRef`."""
    uri, post_uri = str(r[0]), str(r[1])
    return FeedItemRef(post_uri, None if uri == post_uri else uri, str(r[2]))


def _filter_sql(did: str, kind: AuthorFilter) -> tuple[str, list[str | bool]]:
    if kind == "posts_no_replies":
        return " AND (p.reply_parent IS NULL OR f.type = ?)", ["repost"]
    if kind == "posts_with_media":
        return " AND f.type = ? AND p.media_kind = ?", ["post", "images"]
    if kind == "posts_with_video":
        return " AND f.type = ? AND p.media_kind = ?", ["post", "video"]
    if kind == "posts_and_author_threads":
        low, high = f"at://{did}/", f"at://{did}0"
        return (
            " AND (f.type = ? OR p.reply_parent IS NULL "
            "OR (p.reply_root >= ? AND p.reply_root < ?))",
            ["repost", low, high],
        )
    return "", []


def author_feed_page(
    did: str, kind: AuthorFilter, limit: int, after: Keyset | None
) -> Steps[Page[FeedItemRef]]:
    """One page of ``did``'s author feed, newest first."""
    extra, extra_params = _filter_sql(did, kind)
    clause, order, params = keyset_sql(after, "f.sort_at", "f.uri")
    rows = yield from fetch_all(
        "SELECT f.uri, f.post_uri, f.sort_at FROM feed_item f "
        f"JOIN post p ON p.uri = f.post_uri WHERE f.originator_did = ?{extra}{clause}{order}",
        did,
        *extra_params,
        *params,
        limit + 1,
    )
    return to_page(rows, limit, feed_item, 2, 0)


def actor_likes_page(did: str, limit: int, after: Keyset | None) -> Steps[Page[FeedItemRef]]:
    """Posts ``did`` liked, most recent like first (the cursor follows the likes)."""
    clause, order, params = keyset_sql(after, "sort_at", "uri")
    rows = yield from fetch_all(
        f'SELECT uri, subject, sort_at FROM "like" WHERE creator = ?{clause}{order}',
        did,
        *params,
        limit + 1,
    )
    page = to_page(rows, limit, lambda r: FeedItemRef(str(r[1]), None, str(r[2])), 2, 0)
    page.items[:] = [i for i in page.items if "/app.bsky.feed.post/" in i.post]
    return page


def subject_page(
    table: Literal["like", "repost"], subject: str, limit: int, after: Keyset | None
) -> Steps[Page[SubjectRef]]:
    """Likes or reposts of ``subject``, newest first."""
    clause, order, params = keyset_sql(after, "sort_at", "uri")
    rows = yield from fetch_all(
        f'SELECT uri, creator, sort_at FROM "{table}" WHERE subject = ?{clause}{order}',
        subject,
        *params,
        limit + 1,
    )
    return to_page(rows, limit, lambda r: SubjectRef(str(r[0]), str(r[1]), str(r[2])), 2, 0)


def quotes_page(subject: str, limit: int, after: Keyset | None) -> Steps[Page[SubjectRef]]:
    """Posts quoting ``subject``, newest first."""
    clause, order, params = keyset_sql(after, "sort_at", "uri")
    rows = yield from fetch_all(
        f"SELECT uri, creator, sort_at FROM quote WHERE subject = ?{clause}{order}",
        subject,
        *params,
        limit + 1,
    )
    return to_page(rows, limit, lambda r: SubjectRef(str(r[0]), str(r[1]), str(r[2])), 2, 0)


def thread_ancestors(uri: str, height: int) -> Steps[list[str]]:
    """URIs of the indexed ancestors of ``uri`` up to ``height`` levels (nearest first)."""
    rows = yield from fetch_all(
        "WITH RECURSIVE ancestor(uri, parent, height) AS ("
        "SELECT uri, reply_parent, 0 FROM post WHERE uri = ? UNION ALL "
        "SELECT p.uri, p.reply_parent, a.height + 1 FROM post p "
        "JOIN ancestor a ON p.uri = a.parent WHERE a.height < ?) "
        "SELECT uri FROM ancestor WHERE height > 0 ORDER BY height",
        uri,
        height,
    )
    return [str(r[0]) for r in rows]


def thread_descendants(uri: str, depth: int) -> Steps[list[str]]:
    """URIs of the replies below ``uri`` down to ``depth`` levels, newest first (at most
    :data:`MAX_THREAD_REPLIES`)."""
    if depth < 1:
        return []
    rows = yield from fetch_all(
        "WITH RECURSIVE descendant(uri, depth) AS ("
        "SELECT uri, 1 FROM post WHERE reply_parent = ? UNION ALL "
        "SELECT p.uri, d.depth + 1 FROM post p JOIN descendant d ON p.reply_parent = d.uri "
        "WHERE d.depth < ?) "
        "SELECT d.uri FROM descendant d JOIN post p ON p.uri = d.uri "
        "ORDER BY p.sort_at DESC, d.uri DESC LIMIT ?",
        uri,
        depth,
        MAX_THREAD_REPLIES,
    )
    return [str(r[0]) for r in rows]
