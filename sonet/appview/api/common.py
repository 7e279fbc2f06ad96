"""Helpers shared by the AppView's XRPC handlers: cursors, actor lookups, hydration runs and
page filling.

Cursors are ``<sort time in ms>__<tie-break key>`` (the reference AppView's time-keyset
form); a cursor that is not one is a 400 ``Malformed cursor``, and a reference v1 cursor
(``::``) is answered with an empty page, as the reference does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sonet.appview.api.context import AppviewContext
from sonet.appview.views.state import HydrationState
from sonet.storage.appview_read_actors import dids_by_handle, repo_rev
from sonet.storage.appview_read_sql import Keyset, Steps
from sonet.syntax.datetime import format_datetime, parse_datetime
from sonet.syntax.errors import InvalidSyntaxError
from sonet.xrpc.context import HandlerContext
from sonet.xrpc.errors import InvalidRequestError

__all__ = [
    "add_repo_rev",
    "clearly_bad_cursor",
    "fill_page",
    "hydrate",
    "new_state",
    "pack_cursor",
    "resolve_did",
    "resolve_dids",
    "resolve_uri",
    "set_repo_rev",
    "unpack_cursor",
    "with_cursor",
]

T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FILL_PAGE_REQUESTS = 10


def pack_cursor(position: Keyset | None) -> str | None:
    """The cursor of a keyset position."""
    if position is None:
        return None
    try:
        ms = int((parse_datetime(position.sort_at) - _EPOCH) / timedelta(milliseconds=1))
    except InvalidSyntaxError:
        ms = 0
    return f"{ms}__{position.key}"


def unpack_cursor(cursor: str | None) -> Keyset | None:
    """The keyset position of a cursor (None for no cursor)."""
    if not cursor:
        return None
    primary, sep, key = cursor.partition("__")
    if not sep or not key or not primary.lstrip("-").isdigit() or len(primary) > 16:
        raise InvalidRequestError("Malformed cursor")
    try:
        when = _EPOCH + timedelta(milliseconds=int(primary))
    except OverflowError:
        raise InvalidRequestError("Malformed cursor") from None
    return Keyset(format_datetime(when), key)


def with_cursor(out: dict[str, Any], cursor: str | None) -> dict[str, Any]:
    """``out`` with its ``cursor`` set, when there is one."""
    if cursor:
        out["cursor"] = cursor
    return out


def clearly_bad_cursor(cursor: str | None) -> bool:
    """A reference v1 cursor, answered with an empty page."""
    return cursor is not None and "::" in cursor


async def add_repo_rev(ctx: AppviewContext, hc: HandlerContext[Any], viewer: str | None) -> None:
    """Send the viewer's indexed repo revision (``Atproto-Repo-Rev``), as the reference does,
    so the PDS can tell which of the viewer's own writes the response reflects."""
    if viewer is None:
        return
    set_repo_rev(hc, await hydrate(ctx, repo_rev(viewer)))


def set_repo_rev(hc: HandlerContext[Any], rev: str | None) -> None:
    """Send ``rev`` as ``Atproto-Repo-Rev`` (when known)."""
    if rev:
        hc.response_headers["Atproto-Repo-Rev"] = rev


def new_state(ctx: AppviewContext, viewer: str | None) -> HydrationState:
    """An empty hydration state for ``viewer``."""
    return HydrationState(viewer=viewer, images=ctx.image_urls)


async def hydrate(ctx: AppviewContext, steps: Steps[T]) -> T:
    """Run hydration (or any read) steps in one read transaction."""
    return await ctx.reader.run(steps)


async def resolve_dids(ctx: AppviewContext, actors: list[str]) -> dict[str, str]:
    """``actor -> DID`` for the handles and DIDs that name an indexed actor (a DID is taken as
    is; a handle must be held by an indexed actor)."""
    handles = [a.lower() for a in actors if not a.startswith("did:")]
    found = await hydrate(ctx, dids_by_handle(handles)) if handles else {}
    out: dict[str, str] = {}
    for actor in actors:
        did = actor if actor.startswith("did:") else found.get(actor.lower())
        if did is not None:
            out[actor] = did
    return out


async def resolve_did(ctx: AppviewContext, actor: str) -> str | None:
    """The DID of a handle or DID (None for an unknown handle)."""
    return (await resolve_dids(ctx, [actor])).get(actor)


async def resolve_uri(ctx: AppviewContext, uri: str) -> str:
    """An AT-URI with its handle authority replaced by the DID (unchanged if unknown)."""
    if not uri.startswith("at://") or uri.startswith("at://did:"):
        return uri
    authority, slash, rest = uri[5:].partition("/")
    did = await resolve_did(ctx, authority)
    return f"at://{did}{slash}{rest}" if did else uri


async def fill_page(
    fetch: Callable[[str | None, int], Awaitable[tuple[list[T], str | None]]],
    cursor: str | None,
    limit: int,
) -> tuple[list[T], str | None]:
    """Fetch pages until ``limit`` items survive filtering (at most ten requests), as the
    reference AppView's ``fillPage`` does."""
    items, next_cursor = await fetch(cursor, limit)
    requests = 1
    while requests < FILL_PAGE_REQUESTS and next_cursor and len(items) < limit:
        previous = next_cursor
        more, next_cursor = await fetch(next_cursor, limit - len(items))
        items += more
        requests += 1
        if next_cursor == previous:
            next_cursor = None
    return items, next_cursor
