"""``app.bsky.graph.*``: followers, follows, blocks, mutes (private AppView state), lists,
relationships and known followers (https://atproto.com/lexicons/app-bsky-graph), as the
reference AppView answers them.

Followers and follows leave out follows whose two accounts block each other and accounts the
viewer blocks; a curated list leaves out members that block (or are blocked by) its creator,
unless the viewer is the creator; ``getLists`` shows moderation and curation lists unless
``purposes`` says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from sonet.appview.api.common import (
    clearly_bad_cursor,
    fill_page,
    hydrate,
    new_state,
    pack_cursor,
    resolve_did,
    resolve_dids,
    unpack_cursor,
    with_cursor,
)
from sonet.appview.api.context import AppviewContext
from sonet.appview.ingest.times import now_iso
from sonet.appview.views.graph import list_item_view, list_view
from sonet.appview.views.hydrator import hydrate_lists, hydrate_profiles
from sonet.appview.views.profiles import profile, viewer_block_exists
from sonet.storage import appview_read_graph as graph_sql
from sonet.storage.appview_read_mutes import add_mute, remove_mute
from sonet.storage.appview_read_relations import block_pairs, known_followers, relations
from sonet.storage.appview_read_sql import Keyset, Page, Steps, run_write
from sonet.xrpc.context import HandlerContext
from sonet.xrpc.errors import InvalidRequestError
from sonet.xrpc.router import XrpcRouter

__all__ = ["GraphApi", "register"]

Out = dict[str, Any]
T = TypeVar("T")
MODLIST: Final = "app.bsky.graph.defs#modlist"
CURATELIST: Final = "app.bsky.graph.defs#curatelist"
_PURPOSES: Final = {"modlist": MODLIST, "curatelist": CURATELIST}
_GRAPH = "app.bsky.graph.defs"


class GraphApi:
    """The ``app.bsky.graph`` handlers over ``ctx``."""

    def __init__(self, ctx: AppviewContext) -> None:
        self.ctx = ctx

    async def _edges(
        self,
        hc: HandlerContext[str | None],
        key: str,
        listing: Callable[[str, int, Keyset | None], Steps[Page[graph_sql.EdgeRow]]],
        other: Callable[[graph_sql.EdgeRow], str],
    ) -> Out:
        """getFollowers/getFollows: ``listing(did, n, after)`` pages follow edges, ``other``
        picks the listed account of an edge."""
        params = hc.params
        did = await resolve_did(self.ctx, params["actor"])
        if did is None:
            raise InvalidRequestError(f"Actor not found: {params['actor']}")
        st = new_state(self.ctx, hc.auth)
        await hydrate(self.ctx, hydrate_profiles(st, [did]))
        subject = profile(st, did)
        if subject is None:
            raise InvalidRequestError(f"Actor not found: {params['actor']}")
        cursor = params.get("cursor")
        if clearly_bad_cursor(cursor):
            return {"subject": subject, key: []}

        async def fetch(cur: str | None, n: int) -> tuple[list[Out], str | None]:
            page = await hydrate(self.ctx, listing(did, n, unpack_cursor(cur)))

            def load() -> Steps[None]:
                yield from hydrate_profiles(st, (other(e) for e in page.items))
                pairs = [d for e in page.items for d in (e.creator, e.subject)]
                st.block_pairs |= yield from block_pairs(pairs)

            await hydrate(self.ctx, load())
            views = [
                v
                for e in page.items
                if not st.blocked_between(e.creator, e.subject)
                and not viewer_block_exists(st, other(e))
                and (v := profile(st, other(e))) is not None
            ]
            return views, pack_cursor(page.next)

        items, next_cursor = await fill_page(fetch, cursor, params["limit"])
        return with_cursor({"subject": subject, key: items}, next_cursor)

    async def get_followers(self, hc: HandlerContext[str | None]) -> Out:
        return await self._edges(hc, "followers", graph_sql.followers_page, lambda e: e.creator)

    async def get_follows(self, hc: HandlerContext[str | None]) -> Out:
        return await self._edges(hc, "follows", graph_sql.follows_page, lambda e: e.subject)

    async def _own_listing(self, hc: HandlerContext[str], key: str, listing: Any, pick: Any) -> Out:
        """getBlocks/getMutes: profiles from a listing of the viewer's own records."""
        viewer, params = hc.auth, hc.params
        cursor = params.get("cursor")
        if clearly_bad_cursor(cursor):
            return {key: []}

        async def fetch(cur: str | None, n: int) -> tuple[list[Out], str | None]:
            page = await hydrate(self.ctx, listing(viewer, n, unpack_cursor(cur)))
            dids = [pick(i) for i in page.items]
            st = new_state(self.ctx, viewer)
            await hydrate(self.ctx, hydrate_profiles(st, dids))
            return [v for d in dids if (v := profile(st, d)) is not None], pack_cursor(page.next)

        items, next_cursor = await fill_page(fetch, cursor, params["limit"])
        return with_cursor({key: items}, next_cursor)

    async def get_blocks(self, hc: HandlerContext[str]) -> Out:
        return await self._own_listing(hc, "blocks", graph_sql.blocks_page, lambda e: e.subject)

    async def get_mutes(self, hc: HandlerContext[str]) -> Out:
        return await self._own_listing(hc, "mutes", graph_sql.mutes_page, lambda d: d)

    async def _mute_subject(self, hc: HandlerContext[str], check_self: bool) -> str:
        assert hc.input is not None
        did = await resolve_did(self.ctx, hc.input.body["actor"])
        if did is None:
            raise InvalidRequestError("Actor not found")
        if check_self and did == hc.auth:
            raise InvalidRequestError("Actor cannot mute themselves")
        return did

    async def mute_actor(self, hc: HandlerContext[str]) -> None:
        did = await self._mute_subject(hc, check_self=True)
        assert hc.input is not None
        body = hc.input.body
        await run_write(
            self.ctx.db,
            add_mute(
                hc.auth,
                did,
                now_iso(),
                only_reposts=bool(body.get("onlyReposts")),
                only_quoteposts=bool(body.get("onlyQuoteposts")),
            ),
        )

    async def unmute_actor(self, hc: HandlerContext[str]) -> None:
        did = await self._mute_subject(hc, check_self=False)
        await run_write(self.ctx.db, remove_mute(hc.auth, did))

    async def get_list(self, hc: HandlerContext[str | None]) -> Out:
        params = hc.params
        uri, cursor = params["list"], params.get("cursor")
        st = new_state(self.ctx, hc.auth)
        await hydrate(self.ctx, hydrate_lists(st, [uri]))
        view = list_view(st, uri)
        if view is None:
            raise InvalidRequestError("List not found")
        if clearly_bad_cursor(cursor):
            return {"list": view, "items": []}
        row = st.lists[uri]
        check_blocks = hc.auth != row.creator and row.purpose != MODLIST

        async def fetch(cur: str | None, n: int) -> tuple[list[Out], str | None]:
            page = await hydrate(self.ctx, graph_sql.list_members_page(uri, n, unpack_cursor(cur)))

            def load() -> Steps[None]:
                yield from hydrate_profiles(st, (e.subject for e in page.items))
                if check_blocks:
                    members = [row.creator, *(e.subject for e in page.items)]
                    st.block_pairs |= yield from block_pairs(members)

            await hydrate(self.ctx, load())
            items = [
                v
                for e in page.items
                if not st.blocked_between(row.creator, e.subject)
                and (v := list_item_view(st, e.uri, e.subject)) is not None
            ]
            return items, pack_cursor(page.next)

        items, next_cursor = await fill_page(fetch, cursor, params["limit"])
        return with_cursor({"list": view, "items": items}, next_cursor)

    async def get_lists(self, hc: HandlerContext[str | None]) -> Out:
        params = hc.params
        cursor = params.get("cursor")
        if clearly_bad_cursor(cursor):
            return {"lists": []}
        did = await resolve_did(self.ctx, params["actor"])
        if did is None:
            raise InvalidRequestError("Profile not found")
        accepted = {_PURPOSES.get(p, p) for p in params.get("purposes") or _PURPOSES}

        async def fetch(cur: str | None, n: int) -> tuple[list[Out], str | None]:
            page = await hydrate(self.ctx, graph_sql.actor_lists_page(did, n, unpack_cursor(cur)))
            st = new_state(self.ctx, hc.auth)
            await hydrate(self.ctx, hydrate_lists(st, page.items))
            views = [
                v
                for u in page.items
                if (r := st.lists.get(u)) is not None
                and r.purpose in accepted
                and (v := list_view(st, u)) is not None
            ]
            return views, pack_cursor(page.next)

        lists, next_cursor = await fill_page(fetch, cursor, params["limit"])
        return with_cursor({"lists": lists}, next_cursor)

    async def get_relationships(self, hc: HandlerContext[None]) -> Out:
        params = hc.params
        others: list[str] = list(params.get("others") or [])
        actor = await resolve_did(self.ctx, params["actor"])
        out: Out = {}
        if actor is not None:
            out["actor"] = actor
        resolved = await resolve_dids(self.ctx, others) if actor is not None else {}
        found = await hydrate(self.ctx, relations(actor, resolved.values())) if actor else {}
        items = []
        for other in others:
            did = resolved.get(other)
            rel = found.get(did) if did is not None else None
            if rel is None:
                items.append({"$type": f"{_GRAPH}#notFoundActor", "actor": other, "notFound": True})
                continue
            item: Out = {"$type": f"{_GRAPH}#relationship", "did": did}
            for name, value in (
                ("following", rel.following),
                ("followedBy", rel.followed_by),
                ("blocking", rel.blocking),
                ("blockedBy", rel.blocked_by),
                ("blockingByList", rel.blocking_by_list),
                ("blockedByList", rel.blocked_by_list),
            ):
                if value:
                    item[name] = value
            items.append(item)
        out["relationships"] = items
        return out

    async def get_known_followers(self, hc: HandlerContext[str]) -> Out:
        viewer, params = hc.auth, hc.params
        did = await resolve_did(self.ctx, params["actor"])
        if did is None:
            raise InvalidRequestError(f"Actor not found: {params['actor']}")
        st = new_state(self.ctx, viewer)
        known: list[str] = []
        if not clearly_bad_cursor(params.get("cursor")):
            found = await hydrate(self.ctx, known_followers(viewer, [did], params["limit"]))
            known = found[did].dids if did in found else []
        await hydrate(self.ctx, hydrate_profiles(st, [did, *known]))
        subject = profile(st, did)
        if subject is None:
            raise InvalidRequestError(f"Actor not found: {params['actor']}")
        followers = [
            v for d in known if not viewer_block_exists(st, d) and (v := profile(st, d)) is not None
        ]
        return {"subject": subject, "followers": followers}


def register(router: XrpcRouter, ctx: AppviewContext) -> None:
    """Serve the ``app.bsky.graph`` reads and the private mute procedures."""
    api, auth = GraphApi(ctx), ctx.viewer_auth
    required, optional = auth.required(), auth.optional()
    graph = "app.bsky.graph."
    router.query(graph + "getFollowers", api.get_followers, auth=optional)
    router.query(graph + "getFollows", api.get_follows, auth=optional)
    router.query(graph + "getBlocks", api.get_blocks, auth=required)
    router.query(graph + "getMutes", api.get_mutes, auth=required)
    router.procedure(graph + "muteActor", api.mute_actor, auth=required)
    router.procedure(graph + "unmuteActor", api.unmute_actor, auth=required)
    router.query(graph + "getList", api.get_list, auth=optional)
    router.query(graph + "getLists", api.get_lists, auth=optional)
    router.query(graph + "getRelationships", api.get_relationships)
    router.query(graph + "getKnownFollowers", api.get_known_followers, auth=required)
