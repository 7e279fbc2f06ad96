"""``app.bsky.actor.*`` reads: profiles, actor search and follow suggestions
(https://atproto.com/lexicons/app-bsky-actor), as the reference AppView answers them.

``getProfile`` names why a hidden account has no profile (``AccountTakedown``,
``AccountDeactivated``); lists of profiles leave hidden accounts and accounts the viewer
blocks (or is blocked by) out. Suggestions are the accounts most followed by the accounts the
viewer follows, then the most followed accounts, leaving out the viewer's follows, blocks and
mutes.
"""

from __future__ import annotations

from typing import Any

from sonet.appview.api.common import (
    add_repo_rev,
    hydrate,
    new_state,
    resolve_did,
    resolve_dids,
    with_cursor,
)
from sonet.appview.api.context import AppviewContext
from sonet.appview.api.search import search_actor_dids
from sonet.appview.views.hydrator import hydrate_profiles, hydrate_profiles_detailed
from sonet.appview.views.profiles import (
    profile,
    profile_basic,
    profile_detailed,
    viewer_block_exists,
    viewer_mute_exists,
    with_known_followers,
)
from sonet.storage.appview_read_actors import popular_actors, suggested_actors
from sonet.storage.appview_read_sql import Steps
from sonet.xrpc.context import HandlerContext
from sonet.xrpc.errors import InvalidRequestError
from sonet.xrpc.router import XrpcRouter

__all__ = ["ActorApi", "register"]

Out = dict[str, Any]
SUGGESTION_SLACK = 50


class ActorApi:
    """The ``app.bsky.actor`` handlers over ``ctx``."""

    def __init__(self, ctx: AppviewContext) -> None:
        self.ctx = ctx

    async def get_profile(self, hc: HandlerContext[str | None]) -> Out:
        did = await resolve_did(self.ctx, hc.params["actor"])
        if did is None:
            raise InvalidRequestError("Profile not found")
        st = new_state(self.ctx, hc.auth)
        await hydrate(self.ctx, hydrate_profiles_detailed(st, [did]))
        actor = st.actors.get(did)
        if actor is None:
            raise InvalidRequestError("Profile not found")
        if actor.hidden:
            if actor.upstream_status == "deactivated":
                raise InvalidRequestError("Account is deactivated", "AccountDeactivated")
            raise InvalidRequestError("Account has been suspended", "AccountTakedown")
        view = profile_detailed(st, did)
        if view is None:
            raise InvalidRequestError("Profile not found")
        await add_repo_rev(self.ctx, hc, hc.auth)
        return view

    async def get_profiles(self, hc: HandlerContext[str | None]) -> Out:
        actors = list(hc.params["actors"])
        found = await resolve_dids(self.ctx, actors)
        dids = list(dict.fromkeys(found[a] for a in actors if a in found))
        st = new_state(self.ctx, hc.auth)
        await hydrate(self.ctx, hydrate_profiles_detailed(st, dids))
        await add_repo_rev(self.ctx, hc, hc.auth)
        return {"profiles": [v for d in dids if (v := profile_detailed(st, d)) is not None]}

    async def search_actors(self, hc: HandlerContext[str | None]) -> Out:
        params = hc.params
        term = params.get("q") or params.get("term") or ""
        dids, cursor = await search_actor_dids(
            self.ctx, term, params["limit"], params.get("cursor"), typeahead=False
        )
        st = new_state(self.ctx, hc.auth)
        await hydrate(self.ctx, hydrate_profiles(st, dids))
        actors = [
            v for d in dids if not viewer_block_exists(st, d) and (v := profile(st, d)) is not None
        ]
        return with_cursor({"actors": actors}, cursor)

    async def search_actors_typeahead(self, hc: HandlerContext[str | None]) -> Out:
        params = hc.params
        term = params.get("q") or params.get("term") or ""
        dids, _ = await search_actor_dids(self.ctx, term, params["limit"], None, typeahead=True)
        st = new_state(self.ctx, hc.auth)
        await hydrate(self.ctx, hydrate_profiles(st, dids))
        exact = term.lower().removeprefix("@")
        actors = []
        for did in dids:
            actor = st.actors.get(did)
            if actor is None:
                continue
            if (actor.handle or "") != exact and viewer_block_exists(st, did):
                continue
            if (view := profile_basic(st, did)) is not None:
                actors.append(view)
        return {"actors": actors}

    async def get_suggestions(self, hc: HandlerContext[str | None]) -> Out:
        viewer, params = hc.auth, hc.params
        limit = params["limit"]
        cursor = params.get("cursor")
        offset = int(cursor) if cursor and cursor.isdigit() else 0

        def candidates() -> Steps[list[str]]:
            # extra candidates make up for those filtered out below
            wanted = offset + limit + 1 + SUGGESTION_SLACK
            picked: list[str] = []
            if viewer is not None:
                picked += yield from suggested_actors(viewer, wanted, 0)
            picked += yield from popular_actors(wanted, 0)
            return list(dict.fromkeys(picked))

        dids = await hydrate(self.ctx, candidates())
        st = new_state(self.ctx, viewer)
        await hydrate(self.ctx, hydrate_profiles(st, dids))
        dids = [
            d
            for d in dids
            if d != viewer
            and not (st.relations.get(d) and st.relations[d].following)
            and not viewer_block_exists(st, d)
            and not viewer_mute_exists(st, d)
            and profile(st, d) is not None
        ]
        page = dids[offset : offset + limit]
        await hydrate(self.ctx, hydrate_profiles_detailed(st, page))
        actors = [with_known_followers(st, d, v) for d in page if (v := profile(st, d))]
        more = len(dids) > offset + limit
        return with_cursor({"actors": actors}, str(offset + limit) if more else None)


def register(router: XrpcRouter, ctx: AppviewContext) -> None:
    """Serve the ``app.bsky.actor`` reads."""
    api, optional = ActorApi(ctx), ctx.viewer_auth.optional()
    actor = "app.bsky.actor."
    router.query(actor + "getProfile", api.get_profile, auth=optional)
    router.query(actor + "getProfiles", api.get_profiles, auth=optional)
    router.query(actor + "searchActors", api.search_actors, auth=optional)
    router.query(actor + "searchActorsTypeahead", api.search_actors_typeahead, auth=optional)
    router.query(actor + "getSuggestions", api.get_suggestions, auth=optional)
