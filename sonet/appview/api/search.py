"""Post and actor search for the read API, over the tantivy index
(:mod:`sonet.appview.search.query`).

As in the reference AppView's query parser, an author can be given inside ``q`` too (a bare
DID, ``from:<handle|did>`` or ``author:...``; ``q`` wins over the ``author`` parameter;
``"quoted phrases"`` stay whole). Handles are resolved to DIDs; a handle nobody holds
matches nothing. Bad parameters are 400 ``BadQueryString``. Without a search index, actor
search falls back to handle and display-name prefixes in the database and post search is
refused.
"""

from __future__ import annotations

from typing import Any

from sonet.appview.api.common import hydrate, resolve_did
from sonet.appview.api.context import AppviewContext
from sonet.appview.search.query import SearchPage, SearchQueryError, search_actors, search_posts
from sonet.storage.appview_read_actors import search_actors_by_prefix
from sonet.xrpc.errors import InvalidRequestError

__all__ = ["parse_post_query", "search_actor_dids", "search_post_uris"]

_NOBODY = "did:web:nobody.invalid"


def _words(q: str) -> list[str]:
    parts: list[str] = []
    current, quoted = "", False
    for char in q:
        if char == " " and not quoted:
            if current.strip():
                parts.append(current)
            current = ""
            continue
        if char == '"':
            quoted = not quoted
        current += char
    if current.strip():
        parts.append(current)
    return parts


def parse_post_query(q: str, author: str | None = None) -> tuple[str, str | None]:
    """``(text, author)`` of a query string."""
    text: list[str] = []
    for part in _words(q):
        name, _, value = part.partition(":")
        if name == "did":
            author = part
        elif name in ("author", "from"):
            author = value
        else:
            text.append(part)
    return " ".join(text), author


async def _did(ctx: AppviewContext, actor: str | None) -> str | None:
    if not actor:
        return None
    return await resolve_did(ctx, actor.removeprefix("@")) or _NOBODY


async def search_post_uris(ctx: AppviewContext, params: dict[str, Any]) -> SearchPage:
    """One page of post URIs matching ``params`` (``app.bsky.feed.searchPosts``)."""
    if ctx.search is None:
        raise InvalidRequestError("post search is not available", "BadQueryString")
    text, author = parse_post_query(str(params["q"]), params.get("author"))
    try:
        return search_posts(
            ctx.search,
            text or "*",
            sort="top" if params.get("sort") == "top" else "latest",
            author=await _did(ctx, author),
            mentions=await _did(ctx, params.get("mentions")),
            lang=params.get("lang"),
            since=params.get("since"),
            until=params.get("until"),
            tag=params.get("tag") or (),
            domain=params.get("domain"),
            limit=params["limit"],
            cursor=params.get("cursor"),
        )
    except SearchQueryError as exc:
        raise InvalidRequestError(str(exc), "BadQueryString") from None


async def search_actor_dids(
    ctx: AppviewContext, term: str, limit: int, cursor: str | None, *, typeahead: bool
) -> tuple[list[str], str | None]:
    """DIDs of actors matching ``term``, best first, and the next cursor."""
    if ctx.search is None:
        offset = int(cursor) if cursor and cursor.isdigit() else 0
        dids = await hydrate(ctx, search_actors_by_prefix(term, limit + 1, offset))
        more = len(dids) > limit and not typeahead
        return dids[:limit], str(offset + limit) if more else None
    try:
        page = search_actors(ctx.search, term, typeahead=typeahead, limit=limit, cursor=cursor)
    except SearchQueryError as exc:
        raise InvalidRequestError(str(exc)) from None
    return page.items, page.cursor
