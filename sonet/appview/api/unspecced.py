"""``app.bsky.unspecced.getTrendingTopics`` and ``getTrends``: the hashtags used in the most
posts over a sliding window (``SONET_APPVIEW_TRENDING_HOURS``, default 24 hours).

The reference AppView asks a separate topics service; Sonet computes trends from its own
index. A topic is ``#tag``, linked to the app's hashtag page (``/hashtag/<tag>``); a trend
also shows when the tag was first used in the window, its post count and the accounts that
used it most.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sonet.appview.api.common import hydrate, new_state
from sonet.appview.api.context import AppviewContext
from sonet.appview.views.hydrator import hydrate_profiles
from sonet.appview.views.profiles import profile_basic, viewer_block_exists
from sonet.storage.appview_read_sql import Steps
from sonet.storage.appview_read_trends import TagCount, tag_authors, tag_counts
from sonet.syntax.datetime import format_datetime
from sonet.xrpc.context import HandlerContext
from sonet.xrpc.router import XrpcRouter

__all__ = ["TrendsApi", "register"]

Out = dict[str, Any]
TREND_ACTORS: Final = 3


def _topic(tag: TagCount) -> Out:
    return {"topic": f"#{tag.tag}", "displayName": f"#{tag.tag}", "link": f"/hashtag/{tag.tag}"}


class TrendsApi:
    """The trending handlers over ``ctx``."""

    def __init__(self, ctx: AppviewContext) -> None:
        self.ctx = ctx

    def _since(self) -> str:
        hours = self.ctx.config.trending_window_hours
        return format_datetime(datetime.now(UTC) - timedelta(hours=hours))

    async def get_trending_topics(self, hc: HandlerContext[str | None]) -> Out:
        tags = await hydrate(self.ctx, tag_counts(self._since(), hc.params["limit"]))
        return {"topics": [_topic(t) for t in tags], "suggested": []}

    async def get_trends(self, hc: HandlerContext[str | None]) -> Out:
        since = self._since()

        def load() -> Steps[tuple[list[TagCount], dict[str, list[str]]]]:
            tags = yield from tag_counts(since, hc.params["limit"])
            authors = {}
            for tag in tags:
                authors[tag.tag] = yield from tag_authors(tag.tag, since, TREND_ACTORS)
            return tags, authors

        tags, authors = await hydrate(self.ctx, load())
        st = new_state(self.ctx, hc.auth)
        await hydrate(self.ctx, hydrate_profiles(st, (d for ds in authors.values() for d in ds)))
        trends = []
        for tag in tags:
            actors = [
                v
                for did in authors[tag.tag]
                if not viewer_block_exists(st, did) and (v := profile_basic(st, did)) is not None
            ]
            trends.append(
                {
                    **_topic(tag),
                    "startedAt": tag.started_at,
                    "postCount": tag.posts,
                    "actors": actors,
                }
            )
        return {"trends": trends}


def register(router: XrpcRouter, ctx: AppviewContext) -> None:
    """Serve the trending methods."""
    api, optional = TrendsApi(ctx), ctx.viewer_auth.optional()
    router.query("app.bsky.unspecced.getTrendingTopics", api.get_trending_topics, auth=optional)
    router.query("app.bsky.unspecced.getTrends", api.get_trends, auth=optional)
