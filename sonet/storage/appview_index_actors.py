"""AppView index writes of actors: repo position, hosting status, verified handles, and the rows
a deleted account leaves behind (https://atproto.com/specs/sync#identity-and-account-events).

Records of a DID are the URI range ``'at://<did>/'`` .. ``'at://<did>0'``
(:func:`did_uri_range`), so a whole repo is found and removed without a per-DID index.
"""

from __future__ import annotations

from collections.abc import Sequence

from sonet.storage.appview_index_state import AggTable
from sonet.storage.appview_steps import Steps, execute, execute_many, fetch_all, fetch_one

__all__ = [
    "delete_repo_rows",
    "did_uri_range",
    "repo_contributions",
    "repo_rev",
    "save_repo_revs",
    "set_upstream_status",
    "store_handle",
]

_IN_REPO = "uri >= ? AND uri < ?"
_REPO_TABLES = (
    "profile",
    "follow",
    "actor_block",
    "like",
    "repost",
    "post",
    "quote",
    "thread_gate",
    "post_gate",
    "feed_generator",
    "list",
    "list_item",
    "list_block",
    "starter_pack",
    "record",
    "duplicate_record",
)
_CONTRIBUTIONS: tuple[tuple[AggTable, str, str, tuple[object, ...]], ...] = (
    (
        "profile_agg",
        "followers_count",
        f"SELECT subject_did, COUNT(*) FROM follow WHERE {_IN_REPO} GROUP BY subject_did",
        (),
    ),
    (
        "post_agg",
        "like_count",
        f'SELECT subject, COUNT(*) FROM "like" WHERE {_IN_REPO} GROUP BY subject',
        (),
    ),
    (
        "post_agg",
        "repost_count",
        f'SELECT subject, COUNT(*) FROM "repost" WHERE {_IN_REPO} GROUP BY subject',
        (),
    ),
    (
        "post_agg",
        "reply_count",
        f"SELECT reply_parent, COUNT(*) FROM post WHERE {_IN_REPO} "
        "AND reply_parent IS NOT NULL AND violates_thread_gate = ? GROUP BY reply_parent",
        (False,),
    ),
    (
        "post_agg",
        "quote_count",
        f"SELECT subject, COUNT(*) FROM quote WHERE {_IN_REPO} GROUP BY subject",
        (),
    ),
)


def did_uri_range(did: str) -> tuple[str, str]:
    """Bounds ``[low, high)`` of every AT-URI in the repo of ``did``."""
    return f"at://{did}/", f"at://{did}0"


def repo_rev(did: str) -> Steps[tuple[str | None] | None]:
    """``(repo_rev,)`` of an indexed actor (the rev may be None), None for an unknown DID."""
    row = yield from fetch_one("SELECT repo_rev FROM actor WHERE did = ?", did)
    return None if row is None else (None if row[0] is None else str(row[0]),)


def save_repo_revs(rows: Sequence[tuple[str, str, str, str]]) -> Steps[None]:
    """Store ``(did, indexed_at, rev, commit CID)`` rows (creating new actors)."""
    yield from execute_many(
        "INSERT INTO actor (did, indexed_at, repo_rev, repo_commit) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (did) DO UPDATE SET repo_rev = excluded.repo_rev, "
        "repo_commit = excluded.repo_commit",
        rows,
    )


def set_upstream_status(did: str, indexed_at: str, status: str | None) -> Steps[None]:
    """Store an actor's hosting status (None: active, or a status that does not hide it)."""
    yield from execute(
        "INSERT INTO actor (did, indexed_at, upstream_status) VALUES (?, ?, ?) "
        "ON CONFLICT (did) DO UPDATE SET upstream_status = excluded.upstream_status",
        did,
        indexed_at,
        status,
    )


def store_handle(did: str, handle: str | None, indexed_at: str) -> Steps[None]:
    """Store a verified (lower-case) handle, or None, taking it away from any other actor."""
    if handle is not None:
        yield from execute(
            "UPDATE actor SET handle = NULL WHERE handle = ? AND did <> ?", handle, did
        )
    yield from execute(
        "INSERT INTO actor (did, handle, indexed_at) VALUES (?, ?, ?) "
        "ON CONFLICT (did) DO UPDATE SET handle = excluded.handle, "
        "indexed_at = excluded.indexed_at",
        did,
        handle,
        indexed_at,
    )


def repo_contributions(did: str) -> Steps[list[tuple[AggTable, str, str, int]]]:
    """``(table, column, key, n)``: the counts the repo's follows, likes, reposts, counted
    replies and quotes add ``n`` to."""
    low, high = did_uri_range(did)
    found: list[tuple[AggTable, str, str, int]] = []
    for table, column, sql, params in _CONTRIBUTIONS:
        for key, n in (yield from fetch_all(sql, low, high, *params)):
            if key is not None:
                found.append((table, column, str(key), int(n)))
    return found


def delete_repo_rows(did: str) -> Steps[list[str]]:
    """Delete the actor, every record of its repo, the rows derived from them and its
    notifications; zero its own counts. Returns the URIs of its posts (feed items, their
    timeline copies and its own timeline are removed by the caller first)."""
    low, high = did_uri_range(did)
    posts = yield from fetch_all(f"SELECT uri FROM post WHERE {_IN_REPO}", low, high)
    for table, column in (("post_facet", "post_uri"), ("notification", "record_uri")):
        yield from execute(f"DELETE FROM {table} WHERE {column} >= ? AND {column} < ?", low, high)
    for table in _REPO_TABLES:
        yield from execute(f'DELETE FROM "{table}" WHERE {_IN_REPO}', low, high)
    yield from execute(
        "DELETE FROM duplicate_record WHERE duplicate_of >= ? AND duplicate_of < ?", low, high
    )
    yield from execute("DELETE FROM notification WHERE did = ?", did)
    yield from execute(
        "UPDATE profile_agg SET follows_count = 0, posts_count = 0 WHERE did = ?", did
    )
    yield from execute("DELETE FROM actor WHERE did = ?", did)
    return [str(uri) for (uri,) in posts]
