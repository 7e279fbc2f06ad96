"""AppView index writes of posts (https://atproto.com/lexicons/app-bsky-feed): ``post`` rows with
their reply and embed facts, ``quote`` and ``post_facet`` rows, and the lookups the reply rules
need (thread position, follows, list membership).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from sonet.storage.appview_steps import Row, Steps, execute, execute_many, fetch_all, fetch_one

__all__ = [
    "DELETED_POST_COLUMNS",
    "POST_COLUMNS",
    "delete_facets",
    "delete_quote",
    "delete_quotes_of",
    "follows",
    "insert_facets",
    "insert_post",
    "insert_quote",
    "listed",
    "mark_embedding_violation",
    "mark_reply",
    "replies_of",
    "reply_parent",
    "reply_state",
    "take_post",
]

POST_COLUMNS: Final = (
    "uri",
    "cid",
    "creator",
    "text",
    "reply_root",
    "reply_root_cid",
    "reply_parent",
    "reply_parent_cid",
    "embed_kind",
    "media_kind",
    "embed_uri",
    "embed_cid",
    "langs",
    "tags",
    "created_at",
    "indexed_at",
    "sort_at",
)
"""The columns :func:`insert_post` writes."""
DELETED_POST_COLUMNS: Final = (
    "uri",
    "cid",
    "creator",
    "reply_parent",
    "embed_uri",
    "violates_thread_gate",
    "sort_at",
)
"""The columns :func:`take_post` returns."""
_INSERT = (
    f"INSERT INTO post ({', '.join(POST_COLUMNS)}) VALUES ({', '.join('?' * len(POST_COLUMNS))}) "
    "ON CONFLICT (uri) DO NOTHING"
)


def insert_post(values: Mapping[str, Any]) -> Steps[bool]:
    """Insert a post (``values`` has every :data:`POST_COLUMNS`); False if already indexed."""
    inserted = yield from execute(_INSERT, *(values[c] for c in POST_COLUMNS))
    return bool(inserted)


def take_post(uri: str) -> Steps[dict[str, Any] | None]:
    """Delete a post's row and return its :data:`DELETED_POST_COLUMNS` (None if absent)."""
    found = yield from fetch_one(
        f"SELECT {', '.join(DELETED_POST_COLUMNS)} FROM post WHERE uri = ?", uri
    )
    if found is None:
        return None
    yield from execute("DELETE FROM post WHERE uri = ?", uri)
    return dict(zip(DELETED_POST_COLUMNS, found, strict=True))


def reply_parent(uri: str) -> Steps[tuple[str | None] | None]:
    """``(reply_parent,)`` of an indexed post, None if it is not indexed."""
    row = yield from fetch_one("SELECT reply_parent FROM post WHERE uri = ?", uri)
    return None if row is None else (row[0],)


def replies_of(parent: str, limit: int) -> Steps[list[Row]]:
    """``(uri, cid, creator, sort_at)`` of up to ``limit`` indexed direct replies."""
    rows = yield from fetch_all(
        "SELECT uri, cid, creator, sort_at FROM post WHERE reply_parent = ? LIMIT ?",
        parent,
        limit,
    )
    return rows


def reply_state(uri: str) -> Steps[Row | None]:
    """``(reply_root, invalid_reply_root)`` of an indexed post, None if it is not indexed."""
    row = yield from fetch_one("SELECT reply_root, invalid_reply_root FROM post WHERE uri = ?", uri)
    return row


def mark_reply(uri: str, invalid_root: bool, violates_gate: bool) -> Steps[None]:
    """Store the outcome of a reply's checks."""
    yield from execute(
        "UPDATE post SET invalid_reply_root = ?, violates_thread_gate = ? WHERE uri = ?",
        invalid_root,
        violates_gate,
        uri,
    )


def mark_embedding_violation(uri: str) -> Steps[None]:
    """Note that a post quotes a post whose postgate refuses it."""
    yield from execute("UPDATE post SET violates_embedding_rules = ? WHERE uri = ?", True, uri)


def insert_facets(rows: Sequence[tuple[str, str, str, str]]) -> Steps[None]:
    """Store ``(post_uri, kind, value, sort_at)`` facet rows (mentions, links, tags)."""
    yield from execute_many(
        'INSERT INTO post_facet (post_uri, kind, "value", sort_at) VALUES (?, ?, ?, ?) '
        "ON CONFLICT DO NOTHING",
        rows,
    )


def delete_facets(post_uri: str) -> Steps[None]:
    """Remove a post's facet rows."""
    yield from execute("DELETE FROM post_facet WHERE post_uri = ?", post_uri)


def insert_quote(
    uri: str,
    cid: str,
    creator: str,
    subject: str,
    subject_cid: str | None,
    created_at: str,
    indexed_at: str,
    sort_at: str,
) -> Steps[bool]:
    """Store that post ``uri`` quotes ``subject``; False if it was already stored."""
    added = yield from execute(
        "INSERT INTO quote (uri, cid, creator, subject, subject_cid, created_at, indexed_at, "
        "sort_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (uri) DO NOTHING",
        uri,
        cid,
        creator,
        subject,
        subject_cid,
        created_at,
        indexed_at,
        sort_at,
    )
    return bool(added)


def delete_quote(uri: str) -> Steps[bool]:
    """Remove the quote row of post ``uri``; whether there was one."""
    removed = yield from execute("DELETE FROM quote WHERE uri = ?", uri)
    return bool(removed)


def delete_quotes_of(subject: str) -> Steps[int]:
    """Remove the quote rows of the posts quoting ``subject``; how many there were."""
    removed = yield from execute("DELETE FROM quote WHERE subject = ?", subject)
    return removed


def follows(creator: str, subject: str) -> Steps[bool]:
    """Whether ``creator`` follows ``subject``."""
    found = yield from fetch_one(
        "SELECT 1 FROM follow WHERE creator = ? AND subject_did = ?", creator, subject
    )
    return found is not None


def listed(list_uri: str, did: str) -> Steps[bool]:
    """Whether ``did`` is a member of the list ``list_uri``."""
    found = yield from fetch_one(
        "SELECT 1 FROM list_item WHERE list_uri = ? AND subject_did = ?", list_uri, did
    )
    return found is not None
