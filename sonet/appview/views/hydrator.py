"""Hydration: loading into a :class:`HydrationState` every row the views of a request need.

Written as read steps (:mod:`sonet.storage.appview_read_sql`), so a whole hydration runs in
one hop to the SQLite thread (or as awaited statements on PostgreSQL). Each key is looked up
at most once per request. What is loaded follows the reference AppView's hydrator
(https://github.com/bluesky-social/atproto, ``packages/bsky/src/hydration``): posts with two
levels of embedded records and their thread roots, gates, counts, the viewer's likes and
reposts, third-party blocks between a post's author and the authors of its parent, root and
embedded record, and every profile shown with the viewer's relationship to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sonet.appview.ingest.notify import uri_did
from sonet.appview.views.state import HydrationState, PostBlocks
from sonet.storage import appview_read_actors as actors_sql
from sonet.storage import appview_read_graph as graph_sql
from sonet.storage import appview_read_posts as posts_sql
from sonet.storage import appview_read_relations as relations_sql
from sonet.storage.appview_read_feeds import FeedItemRef
from sonet.storage.appview_read_notifications import NotificationRow
from sonet.storage.appview_read_sql import Steps

__all__ = [
    "KNOWN_FOLLOWERS_SAMPLE",
    "hydrate_feed_items",
    "hydrate_feedgens",
    "hydrate_lists",
    "hydrate_notifications",
    "hydrate_posts",
    "hydrate_profiles",
    "hydrate_profiles_detailed",
    "hydrate_reposts",
    "hydrate_starter_packs",
    "hydrate_thread",
]

KNOWN_FOLLOWERS_SAMPLE = 5
"""Known followers shown on a detailed profile (the reference AppView's sample size)."""

_POST = "/app.bsky.feed.post/"
_NO_BLOCKS = PostBlocks()


def _new(state: HydrationState, kind: str, keys: Iterable[str | None]) -> list[str]:
    """The keys of ``kind`` not looked up yet (now marked as looked up)."""
    fresh: list[str] = []
    for key in keys:
        if key is None:
            continue
        tag = f"{kind}:{key}"
        if tag not in state.looked_up:
            state.looked_up.add(tag)
            fresh.append(key)
    return fresh


def _collection_uris(uris: Iterable[str | None], collection: str) -> list[str]:
    marker = f"/{collection}/"
    return [u for u in uris if u is not None and marker in u]


def hydrate_profiles(state: HydrationState, dids: Iterable[str]) -> Steps[None]:
    """Actors, and the viewer's relationship to each (with the lists involved)."""
    new = _new(state, "actor", dids)
    if not new:
        return
    state.actors.update((yield from actors_sql.actors(new)))
    if state.viewer is None:
        return
    relations = yield from relations_sql.relations(state.viewer, new)
    state.relations.update(relations)
    lists = [u for r in relations.values() for u in (r.muted_by_list, r.blocking_by_list) if u]
    yield from hydrate_lists(state, lists, with_creators=False)


def hydrate_profiles_detailed(state: HydrationState, dids: Sequence[str]) -> Steps[None]:
    """Profiles with counts, known followers and the starter pack they joined through."""
    yield from hydrate_profiles(state, dids)
    new = _new(state, "agg", dids)
    state.profile_aggs.update((yield from actors_sql.profile_aggs(new)))
    if state.viewer is not None and new:
        known = yield from relations_sql.known_followers(state.viewer, new, KNOWN_FOLLOWERS_SAMPLE)
        state.known_followers.update(known)
        followers = [d for k in known.values() for d in k.dids]
        yield from hydrate_profiles(state, followers)
        state.block_pairs |= yield from relations_sql.block_pairs([*new, *followers])
    packs = [
        a.profile.joined_via_starter_pack_uri
        for d in new
        if (a := state.actors.get(d)) is not None and a.profile is not None
    ]
    yield from hydrate_starter_packs(state, packs)


def hydrate_lists(
    state: HydrationState, uris: Iterable[str], *, with_creators: bool = True
) -> Steps[None]:
    """Lists, their member counts, the viewer's state and (optionally) their creators."""
    new = _new(state, "list", uris)
    if not new:
        return
    found = yield from graph_sql.lists(new)
    state.lists.update(found)
    state.list_counts.update((yield from graph_sql.list_item_counts(found)))
    if state.viewer is not None:
        state.list_viewers.update((yield from graph_sql.list_viewers(state.viewer, new)))
    if with_creators:
        yield from hydrate_profiles(state, (r.creator for r in found.values()))


def hydrate_feedgens(state: HydrationState, uris: Iterable[str]) -> Steps[None]:
    """Feed generators, their like counts, the viewer's likes and their creators."""
    new = _new(state, "feedgen", uris)
    if not new:
        return
    found = yield from graph_sql.feed_generators(new)
    state.feedgens.update(found)
    state.feedgen_aggs.update((yield from posts_sql.post_aggs(found)))
    if state.viewer is not None:
        likes = yield from posts_sql.records_by("like", state.viewer, found)
        state.feedgen_viewers.update({u: posts_sql.PostViewer(likes.get(u)) for u in found})
    yield from hydrate_profiles(state, (r.creator for r in found.values()))


def hydrate_starter_packs(state: HydrationState, uris: Iterable[str | None]) -> Steps[None]:
    """Starter packs and their creators."""
    new = _new(state, "pack", uris)
    if not new:
        return
    found = yield from graph_sql.starter_packs(new)
    state.starter_packs.update(found)
    yield from hydrate_profiles(state, (r.creator for r in found.values()))


def _load_posts(state: HydrationState, uris: Iterable[str | None]) -> Steps[list[str]]:
    """Load the posts not loaded yet, with their counts; returns those of ``uris`` that are
    indexed."""
    wanted = list(dict.fromkeys(u for u in uris if u is not None))
    new = _new(state, "post", wanted)
    if new:
        found, aggs = yield from posts_sql.posts(new)
        state.posts.update(found)
        state.post_aggs.update(aggs)
        state.looked_up.update(f"post_agg:{u}" for u in new)
    return [u for u in wanted if u in state.posts]


def _embed_uris(state: HydrationState, uris: Iterable[str]) -> list[str]:
    return [e for u in uris if (p := state.posts.get(u)) is not None and (e := p.embed_uri)]


def _post_blocks(state: HydrationState, uris: Sequence[str]) -> Steps[None]:
    pairs: dict[str, tuple[str | None, str | None, str | None]] = {}
    dids: set[str] = set()
    for uri in uris:
        post = state.posts.get(uri)
        if post is None or uri in state.post_blocks:
            continue
        parent = uri_did(post.reply_parent) if post.reply_parent else None
        root = uri_did(post.reply_root) if post.reply_root else None
        embed = uri_did(post.embed_uri) if post.embed_uri else None
        pairs[uri] = (parent, root, embed)
        dids.update(d for d in (post.creator, parent, root, embed) if d)
    state.block_pairs |= yield from relations_sql.block_pairs(dids)
    if not state.block_pairs:  # the usual case: nobody on the page blocks anybody
        state.post_blocks.update(dict.fromkeys(pairs, _NO_BLOCKS))
        return
    for uri, (parent, root, embed) in pairs.items():
        creator = state.posts[uri].creator
        state.post_blocks[uri] = PostBlocks(
            parent=parent is not None and state.blocked_between(creator, parent),
            root=root is not None and state.blocked_between(creator, root),
            embed=embed is not None and state.blocked_between(creator, embed),
        )


def hydrate_posts(
    state: HydrationState, uris: Iterable[str], profiles: Iterable[str] = ()
) -> Steps[None]:
    """Posts and everything their views show; the actors in ``profiles`` are hydrated with the
    posts' authors."""
    layer0 = yield from _load_posts(state, uris)
    roots = {u: state.posts[u].reply_root or u for u in layer0}
    embeds1 = _collection_uris(_embed_uris(state, layer0), "app.bsky.feed.post")
    embeds1 = yield from _load_posts(state, embeds1)
    root_posts = yield from _load_posts(state, roots.values())
    embeds2 = _collection_uris(_embed_uris(state, embeds1), "app.bsky.feed.post")
    embeds2 = yield from _load_posts(state, embeds2)
    shown = list(dict.fromkeys([*layer0, *embeds1, *embeds2]))
    all_posts = list(dict.fromkeys([*shown, *root_posts]))
    gated_roots = [
        r for r in set(roots.values()) if (p := state.posts.get(r)) is None or p.has_thread_gate
    ]
    gated_roots = _new(state, "threadgate", gated_roots)
    threadgates = yield from posts_sql.gates("thread_gate", gated_roots)
    state.threadgates.update(threadgates)
    post_gated = _new(state, "postgate", (u for u in all_posts if state.posts[u].has_post_gate))
    state.postgates.update((yield from posts_sql.gates("post_gate", post_gated)))
    nested = [e for u in [*layer0, *embeds1] if (e := state.posts[u].embed_uri)]
    rule_lists = [
        str(rule.get("list"))
        for gate in threadgates.values()
        for rule in gate.record.get("allow") or ()
        if isinstance(rule, dict) and rule.get("$type") == "app.bsky.feed.threadgate#listRule"
    ]
    yield from hydrate_lists(state, [*_collection_uris(nested, "app.bsky.graph.list"), *rule_lists])
    yield from hydrate_feedgens(state, _collection_uris(nested, "app.bsky.feed.generator"))
    yield from hydrate_starter_packs(state, _collection_uris(nested, "app.bsky.graph.starterpack"))
    counted = _new(state, "post_agg", shown)
    state.post_aggs.update((yield from posts_sql.post_aggs(counted)))
    if state.viewer is not None:
        viewed = _new(state, "post_viewer", shown)
        thread_roots = {u: state.posts[u].reply_root or u for u in viewed}
        state.post_viewers.update(
            (yield from posts_sql.post_viewers(state.viewer, viewed, thread_roots))
        )
    yield from _post_blocks(state, all_posts)
    yield from hydrate_profiles(state, [*(state.posts[u].creator for u in all_posts), *profiles])


def _load_reposts(state: HydrationState, uris: Iterable[str]) -> Steps[list[str]]:
    """Load the reposts not loaded yet; returns the DIDs of their authors."""
    found = yield from posts_sql.reposts(_new(state, "repost", uris))
    state.reposts.update(found)
    return [r.creator for r in found.values()]


def hydrate_reposts(state: HydrationState, uris: Iterable[str]) -> Steps[None]:
    """Reposts and their authors."""
    yield from hydrate_profiles(state, (yield from _load_reposts(state, uris)))


def hydrate_feed_items(state: HydrationState, items: Sequence[FeedItemRef]) -> Steps[None]:
    """Feed items: their posts, reply roots and parents, reposts and grandparent authors (the
    reply context is loaded first so that every profile is hydrated at once)."""
    yield from _load_posts(state, (i.post for i in items))
    context: list[str] = []
    for item in items:
        post = state.posts.get(item.post)
        if post is not None and post.reply_parent and post.reply_root:
            context += [post.reply_root, post.reply_parent]
    yield from _load_posts(state, context)
    grandparents = [
        uri_did(gp)
        for uri in context
        if (p := state.posts.get(uri)) is not None and (gp := p.reply_parent)
    ]
    reposters = yield from _load_reposts(state, (i.repost for i in items if i.repost))
    yield from hydrate_posts(
        state, [*(i.post for i in items), *context], [*grandparents, *reposters]
    )


def hydrate_thread(state: HydrationState, uris: Sequence[str]) -> Steps[None]:
    """The posts of a thread, and the likes of its root author (``threadContext``)."""
    yield from hydrate_posts(state, uris)
    if not uris or (anchor := state.posts.get(uris[0])) is None:
        return
    root_author = uri_did(anchor.reply_root or anchor.uri)
    found = [u for u in uris if u in state.posts]
    state.root_author_likes.update((yield from posts_sql.records_by("like", root_author, found)))


def hydrate_notifications(state: HydrationState, notifs: Sequence[NotificationRow]) -> Steps[None]:
    """What notification views show: the records, their authors, the viewer's root gates."""
    posts = [n.uri for n in notifs if _POST in n.uri]
    yield from _load_posts(state, posts)
    others = _new(state, "record", (n.uri for n in notifs if _POST not in n.uri))
    state.records.update((yield from posts_sql.records(others)))
    roots = [
        p.reply_root
        for u in posts
        if (p := state.posts.get(u)) is not None
        and p.reply_root
        and uri_did(p.reply_root) == state.viewer
    ]
    state.threadgates.update(
        (yield from posts_sql.gates("thread_gate", _new(state, "threadgate", roots)))
    )
    yield from hydrate_profiles(state, (uri_did(n.uri) for n in notifs))
