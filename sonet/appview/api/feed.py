"""``app.bsky.feed.*`` reads: timelines, author feeds, threads, posts, likes, reposts, quotes,
search and feed generators (https://atproto.com/lexicons/app-bsky-feed).

Behaviour follows the reference AppView (``packages/bsky/src/api/app/bsky/feed``): which
calls need a viewer, which blocks and mutes filter which items, and the errors. Filtered pages
are refilled (``fill_page``) as the reference does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sonet.appview.api.common import (
    add_repo_rev,
    clearly_bad_cursor,
    fill_page,
    hydrate,
    new_state,
    pack_cursor,
    resolve_did,
    resolve_uri,
    set_repo_rev,
    unpack_cursor,
    with_cursor,
)
from sonet.appview.api.context import AppviewContext
from sonet.appview.api.feedgen import feed_endpoint, fetch_skeleton
from sonet.appview.api.search import search_post_uris
from sonet.appview.ingest.notify import uri_did
from sonet.appview.views.feeds import FeedItem, blocks_and_mutes, feed_view_post
from sonet.appview.views.graph import generator_view
from sonet.appview.views.hydrator import (
    hydrate_feed_items,
    hydrate_feedgens,
    hydrate_posts,
    hydrate_profiles,
    hydrate_reposts,
    hydrate_thread,
)
from sonet.appview.views.posts import post_view, threadgate_view
from sonet.appview.views.profiles import pinned_post, profile, viewer_block_exists
from sonet.appview.views.state import HydrationState
from sonet.appview.views.threads import thread_view
from sonet.storage import appview_read_feeds as feeds_sql
from sonet.storage import appview_read_posts as posts_sql
from sonet.storage.appview_read_actors import actors, repo_rev
from sonet.storage.appview_read_feeds import FeedItemRef
from sonet.storage.appview_read_graph import actor_feeds_page
from sonet.storage.appview_read_relations import block_pairs
from sonet.storage.appview_read_sql import Page, Steps
from sonet.xrpc.context import HandlerContext
from sonet.xrpc.errors import InvalidRequestError
from sonet.xrpc.router import XrpcRouter

__all__ = ["FeedApi", "register"]

Out = dict[str, Any]


def _subject_listing(params: dict[str, Any], key: str) -> Out:
    """The empty answer of getLikes/getRepostedBy/getQuotes: the subject and its items."""
    out: Out = {"uri": params["uri"], key: []}
    if params.get("cid"):
        out["cid"] = params["cid"]
    return out


def _refs(items: list[FeedItem]) -> list[FeedItemRef]:
    return [FeedItemRef(i.post, i.repost, "") for i in items]


class _SelfThread:
    """Whether an author-feed post belongs to a complete self-thread in the page (the
    ``posts_and_author_threads`` rule)."""

    def __init__(self, state: HydrationState, items: list[FeedItem]) -> None:
        self.state = state
        self.feed = {i.post for i in items if i.repost is None}
        self.cache: dict[str, bool] = {}

    def ok(self, uri: str, seen: frozenset[str] = frozenset()) -> bool:
        if uri in self.cache:
            return self.cache[uri]
        post = self.state.posts.get(uri)
        result = (
            uri not in seen
            and uri in self.feed
            and post is not None
            and (post.reply_parent is None or self.ok(post.reply_parent, seen | {uri}))
        )
        self.cache[uri] = result
        return result


class FeedApi:
    """The ``app.bsky.feed`` handlers over ``ctx``."""

    def __init__(self, ctx: AppviewContext) -> None:
        self.ctx = ctx

    async def _feed_page(
        self,
        viewer: str | None,
        items: list[FeedItem],
        keep: Callable[[HydrationState, FeedItem], bool],
        state: HydrationState | None = None,
    ) -> list[Out]:
        st = state or new_state(self.ctx, viewer)
        await hydrate(self.ctx, hydrate_feed_items(st, _refs(items)))
        return [v for i in items if keep(st, i) and (v := feed_view_post(st, i)) is not None]

    async def get_timeline(self, hc: HandlerContext[str]) -> Out:
        viewer, limit, cursor = hc.auth, hc.params["limit"], hc.params.get("cursor")
        if clearly_bad_cursor(cursor):
            return {"feed": []}

        revs: list[str | None] = []

        def hydration(st: HydrationState, page: Page[FeedItemRef]) -> Steps[None]:
            yield from hydrate_feed_items(st, page.items)
            if not revs:  # the viewer's repo revision, read in the same hop
                revs.append((yield from repo_rev(viewer)))

        async def fetch(cur: str | None, n: int) -> tuple[list[Out], str | None]:
            st = new_state(self.ctx, viewer)
            page, _ = await self.ctx.timeline.page(
                viewer, n, unpack_cursor(cur), lambda p: hydration(st, p)
            )
            items = [FeedItem.of(r) for r in page.items]
            feed = [
                v
                for i in items
                if not blocks_and_mutes(st, i).any and (v := feed_view_post(st, i)) is not None
            ]
            return feed, pack_cursor(page.next)

        feed, next_cursor = await fill_page(fetch, cursor, limit)
        set_repo_rev(hc, revs[0] if revs else None)
        return with_cursor({"feed": feed}, next_cursor)

    async def get_author_feed(self, hc: HandlerContext[str | None]) -> Out:
        viewer, params = hc.auth, hc.params
        did = await resolve_did(self.ctx, params["actor"])
        found = await hydrate(self.ctx, actors([did])) if did else {}
        actor = found.get(did) if did else None
        if did is None or actor is None or actor.hidden:
            raise InvalidRequestError("Profile not found")
        cursor, limit, kind = params.get("cursor"), params["limit"], params["filter"]
        if clearly_bad_cursor(cursor):
            return {"feed": []}
        pinned = pinned_post(actor) if params["includePins"] else None
        if pinned is not None and uri_did(pinned["uri"]) != did:
            pinned = None

        def keep(st: HydrationState, item: FeedItem) -> bool:
            bam = blocks_and_mutes(st, item)
            return (
                not bam.author_blocked
                and not bam.originator_blocked
                and (not bam.author_muted or bam.originator_muted)
            )

        async def fetch(cur: str | None, n: int) -> tuple[list[Out], str | None]:
            page = await hydrate(
                self.ctx, feeds_sql.author_feed_page(did, kind, n, unpack_cursor(cur))
            )
            items = [FeedItem.of(r) for r in page.items]
            if pinned is not None and cur is None:
                items = [FeedItem(pinned["uri"], pinned=True)] + [
                    i for i in items if i.post != pinned["uri"]
                ]
            st = new_state(self.ctx, viewer)
            await hydrate(self.ctx, hydrate_profiles(st, [did]))
            rel = st.relations.get(did)
            if rel is not None and (rel.blocking or rel.blocking_by_list):
                raise InvalidRequestError(f"Requester has blocked actor: {did}", "BlockedActor")
            if rel is not None and (rel.blocked_by or rel.blocked_by_list):
                raise InvalidRequestError(f"Requester is blocked by actor: {did}", "BlockedByActor")
            await hydrate(self.ctx, hydrate_feed_items(st, _refs(items)))
            selected = [i for i in items if keep(st, i)]
            if kind == "posts_and_author_threads":
                thread = _SelfThread(st, items)
                selected = [i for i in selected if i.repost or i.pinned or thread.ok(i.post)]
            feed = [v for i in selected if (v := feed_view_post(st, i)) is not None]
            return feed, pack_cursor(page.next)

        feed, next_cursor = await fill_page(fetch, cursor, limit)
        await add_repo_rev(self.ctx, hc, viewer)
        return with_cursor({"feed": feed}, next_cursor)

    async def get_actor_likes(self, hc: HandlerContext[str | None]) -> Out:
        viewer, params = hc.auth, hc.params
        cursor = params.get("cursor")
        if clearly_bad_cursor(cursor):
            return {"feed": []}
        did = await resolve_did(self.ctx, params["actor"])
        if did is None or viewer is None or did != viewer:
            raise InvalidRequestError("Profile not found")

        async def fetch(cur: str | None, n: int) -> tuple[list[Out], str | None]:
            page = await hydrate(self.ctx, feeds_sql.actor_likes_page(did, n, unpack_cursor(cur)))
            items = [FeedItem.of(r) for r in page.items]
            feed = await self._feed_page(
                viewer, items, lambda st, i: not viewer_block_exists(st, uri_did(i.post))
            )
            return feed, pack_cursor(page.next)

        feed, next_cursor = await fill_page(fetch, cursor, params["limit"])
        await add_repo_rev(self.ctx, hc, viewer)
        return with_cursor({"feed": feed}, next_cursor)

    async def get_post_thread(self, hc: HandlerContext[str | None]) -> Out:
        params = hc.params
        anchor = await resolve_uri(self.ctx, params["uri"])
        height, depth = params["parentHeight"], params["depth"]

        def skeleton() -> Steps[tuple[list[str], list[str]]]:
            above = yield from feeds_sql.thread_ancestors(anchor, height)
            below = yield from feeds_sql.thread_descendants(anchor, depth)
            return above, below

        above, below = await hydrate(self.ctx, skeleton())
        st = new_state(self.ctx, hc.auth)
        await hydrate(self.ctx, hydrate_thread(st, [anchor, *above, *below]))
        thread = thread_view(st, anchor, below, height, depth)
        if thread.get("notFound"):
            raise InvalidRequestError(f"Post not found: {anchor}", "NotFound")
        await add_repo_rev(self.ctx, hc, hc.auth)
        out: Out = {"thread": thread}
        row = st.posts.get(anchor)
        gate = threadgate_view(st, (row.reply_root if row else None) or anchor)
        if gate is not None:
            out["threadgate"] = gate
        return out

    async def get_posts(self, hc: HandlerContext[str | None]) -> Out:
        uris = list(dict.fromkeys(hc.params["uris"]))
        st = new_state(self.ctx, hc.auth)
        await hydrate(self.ctx, hydrate_posts(st, uris))
        posts = [
            v
            for u in uris
            if not viewer_block_exists(st, uri_did(u)) and (v := post_view(st, u)) is not None
        ]
        return {"posts": posts}

    async def get_likes(self, hc: HandlerContext[str | None]) -> Out:
        params = hc.params
        uri, cursor = params["uri"], params.get("cursor")
        out = _subject_listing(params, "likes")
        if clearly_bad_cursor(cursor):
            return out
        if cursor and cursor.startswith("did:"):
            raise InvalidRequestError("Cursor appear to be out of date, please try reloading.")
        author = uri_did(uri)

        async def fetch(cur: str | None, n: int) -> tuple[list[Out], str | None]:
            page = await hydrate(
                self.ctx, feeds_sql.subject_page("like", uri, n, unpack_cursor(cur))
            )
            st = new_state(self.ctx, hc.auth)

            def load() -> Steps[None]:
                st.likes.update((yield from posts_sql.likes(r.uri for r in page.items)))
                yield from hydrate_profiles(st, (r.creator for r in page.items))
                st.block_pairs |= yield from block_pairs([author, *(r.creator for r in page.items)])

            await hydrate(self.ctx, load())
            likes = []
            for ref in page.items:
                like = st.likes.get(ref.uri)
                if like is None or st.blocked_between(author, ref.creator):
                    continue
                if viewer_block_exists(st, ref.creator):
                    continue
                actor = profile(st, ref.creator)
                if actor is not None:
                    likes.append(
                        {"actor": actor, "createdAt": like.created_at, "indexedAt": like.sort_at}
                    )
            return likes, pack_cursor(page.next)

        out["likes"], next_cursor = await fill_page(fetch, cursor, params["limit"])
        return with_cursor(out, next_cursor)

    async def get_reposted_by(self, hc: HandlerContext[str | None]) -> Out:
        params = hc.params
        uri, cursor = params["uri"], params.get("cursor")
        out = _subject_listing(params, "repostedBy")
        if clearly_bad_cursor(cursor):
            return out

        async def fetch(cur: str | None, n: int) -> tuple[list[Out], str | None]:
            page = await hydrate(
                self.ctx, feeds_sql.subject_page("repost", uri, n, unpack_cursor(cur))
            )
            st = new_state(self.ctx, hc.auth)
            await hydrate(self.ctx, hydrate_reposts(st, (r.uri for r in page.items)))
            views = [
                v
                for r in page.items
                if r.uri in st.reposts
                and not viewer_block_exists(st, r.creator)
                and (v := profile(st, r.creator)) is not None
            ]
            return views, pack_cursor(page.next)

        out["repostedBy"], next_cursor = await fill_page(fetch, cursor, params["limit"])
        return with_cursor(out, next_cursor)

    async def get_quotes(self, hc: HandlerContext[str | None]) -> Out:
        params = hc.params
        uri, cursor = params["uri"], params.get("cursor")
        out = _subject_listing(params, "posts")
        if clearly_bad_cursor(cursor):
            return out

        async def fetch(cur: str | None, n: int) -> tuple[list[Out], str | None]:
            page = await hydrate(self.ctx, feeds_sql.quotes_page(uri, n, unpack_cursor(cur)))
            st = new_state(self.ctx, hc.auth)
            await hydrate(self.ctx, hydrate_posts(st, (r.uri for r in page.items)))
            views = []
            for ref in page.items:
                blocks = st.post_blocks.get(ref.uri)
                if viewer_block_exists(st, ref.creator) or (blocks is not None and blocks.embed):
                    continue
                if (view := post_view(st, ref.uri)) is not None:
                    views.append(view)
            return views, pack_cursor(page.next)

        out["posts"], next_cursor = await fill_page(fetch, cursor, params["limit"])
        return with_cursor(out, next_cursor)

    async def search_posts(self, hc: HandlerContext[str | None]) -> Out:
        """Matching posts by authors hydrated as visible (not taken down, suspended, deactivated
        or deleted: ``post_view`` has no view of them, as the reference's hydration has none),
        minus blocks; the index keeps a hidden author's posts, so they return on reactivation."""
        viewer = hc.auth
        hits: list[int] = []

        async def fetch(cur: str | None, n: int) -> tuple[list[dict[str, Any]], str | None]:
            page = await search_post_uris(self.ctx, {**hc.params, "cursor": cur, "limit": n})
            hits.append(page.hits_total)
            st = new_state(self.ctx, viewer)
            await hydrate(self.ctx, hydrate_posts(st, page.items))
            posts = [
                v
                for u in page.items
                if (uri_did(u) == viewer or not viewer_block_exists(st, uri_did(u)))
                and (v := post_view(st, u)) is not None
            ]
            return posts, page.cursor

        posts, cursor = await fill_page(fetch, hc.params.get("cursor"), hc.params["limit"])
        return with_cursor({"posts": posts, "hitsTotal": hits[0]}, cursor)

    async def _generators(self, viewer: str | None, uris: list[str]) -> HydrationState:
        st = new_state(self.ctx, viewer)
        await hydrate(self.ctx, hydrate_feedgens(st, uris))
        return st

    async def get_feed_generator(self, hc: HandlerContext[str | None]) -> Out:
        feed = hc.params["feed"]
        st = await self._generators(hc.auth, [feed])
        gen = st.feedgens.get(feed)
        if gen is None:
            raise InvalidRequestError("could not find feed")
        await feed_endpoint(self.ctx.did_resolver, gen.feed_did)
        view = generator_view(st, feed)
        if view is None:
            raise InvalidRequestError("could not find feed")
        return {"view": view, "isOnline": True, "isValid": True}

    async def get_feed_generators(self, hc: HandlerContext[str | None]) -> Out:
        uris = list(dict.fromkeys(hc.params["feeds"]))
        st = await self._generators(hc.auth, uris)
        return {"feeds": [v for u in uris if (v := generator_view(st, u)) is not None]}

    async def get_actor_feeds(self, hc: HandlerContext[str | None]) -> Out:
        params = hc.params
        cursor = params.get("cursor")
        if clearly_bad_cursor(cursor):
            return {"feeds": []}
        did = await resolve_did(self.ctx, params["actor"])
        if did is None:
            raise InvalidRequestError("Profile not found")
        page = await hydrate(
            self.ctx, actor_feeds_page(did, params["limit"], unpack_cursor(cursor))
        )
        st = await self._generators(hc.auth, page.items)
        feeds = [v for u in page.items if (v := generator_view(st, u)) is not None]
        return with_cursor({"feeds": feeds}, pack_cursor(page.next))

    async def get_feed(self, hc: HandlerContext[tuple[str | None, str | None]]) -> Out:
        viewer, token = hc.auth
        params = hc.params
        feed = params["feed"]
        st = await self._generators(viewer, [feed])
        gen = st.feedgens.get(feed)
        if gen is None:
            raise InvalidRequestError("could not find feed", "UnknownFeed")
        endpoint = await feed_endpoint(self.ctx.did_resolver, gen.feed_did)
        skeleton = await fetch_skeleton(
            self.ctx.http, endpoint, feed, params["limit"], params.get("cursor"), token
        )
        items = skeleton.items
        page = await self._feed_page(viewer, items, lambda s, i: not blocks_and_mutes(s, i).any, st)
        if skeleton.req_id is not None:
            for view in page:
                view["reqId"] = skeleton.req_id
        return with_cursor({"feed": page}, skeleton.cursor)


def register(router: XrpcRouter, ctx: AppviewContext) -> None:
    """Serve the ``app.bsky.feed`` reads."""
    api, auth = FeedApi(ctx), ctx.viewer_auth
    required, optional = auth.required(), auth.optional()
    feed = "app.bsky.feed."
    router.query(feed + "getTimeline", api.get_timeline, auth=required)
    router.query(feed + "getAuthorFeed", api.get_author_feed, auth=optional)
    router.query(feed + "getActorLikes", api.get_actor_likes, auth=optional)
    router.query(feed + "getPostThread", api.get_post_thread, auth=optional)
    router.query(feed + "getPosts", api.get_posts, auth=optional)
    router.query(feed + "getLikes", api.get_likes, auth=optional)
    router.query(feed + "getRepostedBy", api.get_reposted_by, auth=optional)
    router.query(feed + "getQuotes", api.get_quotes, auth=optional)
    router.query(feed + "searchPosts", api.search_posts, auth=optional)
    router.query(feed + "getFeedGenerator", api.get_feed_generator, auth=optional)
    router.query(feed + "getFeedGenerators", api.get_feed_generators, auth=optional)
    router.query(feed + "getActorFeeds", api.get_actor_feeds, auth=optional)
    router.query(feed + "getFeed", api.get_feed, auth=auth.feed())
