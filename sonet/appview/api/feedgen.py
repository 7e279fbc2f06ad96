"""Calling a feed generator's ``app.bsky.feed.getFeedSkeleton`` for ``getFeed``.

https://docs.bsky.app/docs/starter-templates/custom-feeds: the generator's DID document names
its endpoint (service ``#bsky_fg`` of type ``BskyFeedGenerator``); the call goes through the
SSRF-safe HTTP client with the caller's service JWT passed on, as the reference AppView does.
An XRPC error from the generator is passed through; a response that is not a skeleton is a 502
``InvalidFeedResponse``; a generator that cannot be reached is a 502.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import orjson
from yarl import URL

from sonet.appview.views.feeds import FeedItem
from sonet.identity.did_doc import service_endpoint
from sonet.identity.did_resolver import DidResolver
from sonet.identity.errors import IdentityError
from sonet.net import HttpClient, NetError, read_limited
from sonet.syntax.aturi import is_valid_at_uri
from sonet.xrpc.errors import InvalidRequestError, UpstreamFailureError, XRPCError

__all__ = ["Skeleton", "feed_endpoint", "fetch_skeleton"]

MAX_SKELETON_BYTES: Final = 1024 * 1024
SKELETON_TIMEOUT: Final = 10.0
_DEFS = "app.bsky.feed.defs"


@dataclass(frozen=True, slots=True)
class Skeleton:
    """A generator's answer: items (at most the limit asked for), cursor and request id."""

    items: list[FeedItem]
    cursor: str | None
    req_id: str | None


async def feed_endpoint(dids: DidResolver, feed_did: str) -> str:
    """The ``#bsky_fg`` endpoint of a feed generator's DID."""
    try:
        doc = await dids.resolve(feed_did)
        endpoint = service_endpoint(doc, "#bsky_fg", "BskyFeedGenerator")
    except IdentityError:
        raise InvalidRequestError(f"could not resolve identity: {feed_did}") from None
    if endpoint is None:
        raise InvalidRequestError(
            f"invalid feed generator service details in did document: {feed_did}"
        )
    return endpoint


def _item(raw: Any) -> FeedItem | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("post"), str):
        return None
    if not is_valid_at_uri(raw["post"]):
        return None
    reason = raw.get("reason")
    kind = reason.get("$type") if isinstance(reason, dict) else None
    repost = reason.get("repost") if isinstance(reason, dict) else None
    context = raw.get("feedContext")
    return FeedItem(
        post=raw["post"],
        repost=repost
        if kind == f"{_DEFS}#skeletonReasonRepost" and isinstance(repost, str)
        else None,
        pinned=kind == f"{_DEFS}#skeletonReasonPin",
        feed_context=context if isinstance(context, str) else None,
    )


def _parse(body: bytes, limit: int, cursor: str | None) -> Skeleton:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    feed = data.get("feed") if isinstance(data, dict) else None
    if not isinstance(feed, list):
        raise UpstreamFailureError("feed provided an invalid response", "InvalidFeedResponse")
    assert isinstance(data, dict)
    items = [i for raw in feed[:limit] if (i := _item(raw)) is not None]
    next_cursor = data.get("cursor")
    if not isinstance(next_cursor, str) or not feed or next_cursor == cursor:
        next_cursor = None
    req_id = data.get("reqId")
    return Skeleton(items, next_cursor, req_id if isinstance(req_id, str) else None)


def _passed_through(status: int, body: bytes) -> XRPCError:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        message = data.get("message")
        return XRPCError(status, data["error"], message if isinstance(message, str) else None)
    return UpstreamFailureError("feed unavailable")


async def fetch_skeleton(
    http: HttpClient,
    endpoint: str,
    feed: str,
    limit: int,
    cursor: str | None,
    token: str | None,
) -> Skeleton:
    """Ask the generator at ``endpoint`` for a page of ``feed``."""
    query = {"feed": feed, "limit": str(limit)}
    if cursor:
        query["cursor"] = cursor
    try:
        url = URL(endpoint).with_path("/xrpc/app.bsky.feed.getFeedSkeleton").with_query(query)
    except ValueError:
        raise UpstreamFailureError("feed unavailable") from None
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        async with (
            asyncio.timeout(SKELETON_TIMEOUT),
            http.session().get(url, headers=headers, allow_redirects=False) as resp,
        ):
            body = await read_limited(resp, MAX_SKELETON_BYTES)
            status = resp.status
    except (aiohttp.ClientError, TimeoutError, NetError):
        raise UpstreamFailureError("feed unavailable") from None
    if status >= 400:
        raise _passed_through(status, body)
    if status != 200:
        raise UpstreamFailureError("feed provided an invalid response", "InvalidFeedResponse")
    return _parse(body, limit, cursor)
