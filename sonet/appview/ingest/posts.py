"""Indexer of ``app.bsky.feed.post``, following the reference AppView's rules.

A post is a feed item of its author (pushed to timelines, :mod:`.fanout`); its reply refs are
checked (:mod:`.thread_rules`: ``invalid_reply_root``, ``violates_thread_gate``); a quote of a
post is a ``quote`` row (checked against the quoted post's postgate); facets become
``post_facet`` rows. Counts: the author's posts, the parent's replies (not when the reply
violates the threadgate), the quoted post's quotes. Notifications: mentions, quote (unless the
postgate refuses it), and replies to each ancestor up to 4 levels up (stopping above a reply the
root's threadgate hides), plus the ancestors of replies that arrived before this post; none
when the reply violates the threadgate. One notification per recipient per post.
"""

from __future__ import annotations

from typing import Any

import orjson

from sonet.appview.ingest.context import BatchContext
from sonet.appview.ingest.events import RecordWrite
from sonet.appview.ingest.fanout import add_feed_item, remove_feed_items
from sonet.appview.ingest.notify import Notif, uri_did
from sonet.appview.ingest.post_content import link_domain, summarize_embed, summarize_facets
from sonet.appview.ingest.processor import IndexedRow, RecordIndexer
from sonet.appview.ingest.thread_rules import (
    gate_uri,
    invalid_reply_root,
    load_record,
    violates_embedding_rules,
    violates_thread_gate,
)
from sonet.appview.ingest.times import created_and_sort_at
from sonet.appview.search.documents import PostDocument
from sonet.storage.appview_index_posts import (
    delete_facets,
    delete_quote,
    delete_quotes_of,
    insert_facets,
    insert_post,
    insert_quote,
    mark_embedding_violation,
    mark_reply,
    replies_of,
    reply_parent,
    reply_state,
    take_post,
)
from sonet.storage.appview_steps import Steps

__all__ = ["REPLY_NOTIF_DEPTH", "PostIndexer"]

POST = "app.bsky.feed.post"
REPLY_NOTIF_DEPTH = 5
"""Replies notify ancestors fewer than this many levels up (the reference's depth)."""
MAX_DESCENDANTS = 1000
"""Bound on the early-arrived replies looked at when a post is indexed (huge threads)."""


def _ref(value: Any, name: str) -> tuple[str | None, str | None]:
    ref = value.get(name) if isinstance(value, dict) else None
    if not isinstance(ref, dict):
        return None, None
    return ref.get("uri"), ref.get("cid")


def _json_list(values: Any) -> str | None:
    if not isinstance(values, list) or not values:
        return None
    return orjson.dumps(values).decode()


def _is_post(uri: str | None) -> bool:
    return uri is not None and uri.startswith("at://") and f"/{POST}/" in uri


def _ancestors(uri: str, parent_uri: str | None) -> Steps[list[tuple[str, int]]]:
    """``(uri, height)`` of the post (height 0) and its indexed ancestors below the depth."""
    found = [(uri, 0)]
    current, height = parent_uri, 1
    while current is not None and height < REPLY_NOTIF_DEPTH:
        row = yield from reply_parent(current)
        if row is None:
            break
        found.append((current, height))
        current, height = row[0], height + 1
    return found


def _descendants(uri: str) -> Steps[list[tuple[str, str, str, str, int]]]:
    """``(uri, cid, creator, sort_at, depth)`` of already indexed replies below the post."""
    found: list[tuple[str, str, str, str, int]] = []
    level, depth = [uri], 1
    while level and depth <= REPLY_NOTIF_DEPTH and len(found) < MAX_DESCENDANTS:
        next_level: list[str] = []
        for parent in level:
            rows = yield from replies_of(parent, MAX_DESCENDANTS - len(found))
            for r in rows:
                found.append((str(r[0]), str(r[1]), str(r[2]), str(r[3]), depth))
                next_level.append(str(r[0]))
            if len(found) >= MAX_DESCENDANTS:
                break
        level, depth = next_level, depth + 1
    return found


class PostIndexer(RecordIndexer):
    """``app.bsky.feed.post``."""

    collection = POST

    def insert(self, ctx: BatchContext, write: RecordWrite) -> Steps[IndexedRow | None]:
        v = write.value
        uri, creator = write.uri, write.did
        created_at, sort_at = created_and_sort_at(v, ctx.indexed_at)
        root_uri, root_cid = _ref(v.get("reply"), "root")
        parent_uri, parent_cid = _ref(v.get("reply"), "parent")
        embed = summarize_embed(v.get("embed"))
        facets = summarize_facets(v)
        raw_langs = v.get("langs")
        langs: list[Any] = raw_langs if isinstance(raw_langs, list) else []
        inserted = yield from insert_post(
            {
                "uri": uri,
                "cid": write.cid,
                "creator": creator,
                "text": v.get("text", ""),
                "reply_root": root_uri,
                "reply_root_cid": root_cid,
                "reply_parent": parent_uri,
                "reply_parent_cid": parent_cid,
                "embed_kind": embed.kind,
                "media_kind": embed.media,
                "embed_uri": embed.record_uri,
                "embed_cid": embed.record_cid,
                "langs": _json_list(langs),
                "tags": _json_list(v.get("tags")),
                "created_at": created_at,
                "indexed_at": ctx.indexed_at,
                "sort_at": sort_at,
            }
        )
        if not inserted:
            return None
        yield from add_feed_item(ctx, uri, write.cid, "post", uri, creator, sort_at)
        row: IndexedRow = {
            "uri": uri,
            "cid": write.cid,
            "creator": creator,
            "reply_parent": parent_uri,
            "embed_uri": embed.record_uri,
            "sort_at": sort_at,
            "violates_thread_gate": False,
            "violates_embedding_rules": False,
            "mentions": facets.mentions,
        }
        gate = None
        if root_uri is not None and parent_uri is not None:
            gate = yield from load_record(gate_uri(root_uri, "app.bsky.feed.threadgate"))
            parent = yield from reply_state(parent_uri)
            invalid = invalid_reply_root(root_uri, parent_uri, parent)
            violates = yield from violates_thread_gate(creator, root_uri, gate)
            row["violates_thread_gate"] = violates
            if invalid or violates:
                yield from mark_reply(uri, invalid, violates)
        row["ancestors"] = yield from _ancestors(uri, parent_uri)
        row["descendants"] = yield from _descendants(uri)
        if root_uri is None and row["descendants"]:
            gate = yield from load_record(gate_uri(uri, "app.bsky.feed.threadgate"))
        hidden = gate.get("hiddenReplies") if gate is not None else None
        row["hidden_replies"] = set(hidden) if isinstance(hidden, list) else set()
        yield from self._facets(uri, facets.mentions, facets.links, facets.tags, sort_at)
        if _is_post(embed.record_uri) and embed.record_uri and embed.record_cid:
            yield from self._quote(ctx, row, write, created_at, sort_at)
        domains = {link_domain(u) for u in (*facets.links, embed.external_uri) if u}
        ctx.post_docs[uri] = PostDocument(
            uri=uri,
            author=creator,
            text=str(v.get("text", "")),
            created_at=created_at,
            langs=tuple(str(lang) for lang in langs),
            tags=facets.tags,
            mentions=facets.mentions,
            domains=tuple(sorted(d for d in domains if d)),
        )
        return row

    def _facets(
        self,
        uri: str,
        mentions: tuple[str, ...],
        links: tuple[str, ...],
        tags: tuple[str, ...],
        sort_at: str,
    ) -> Steps[None]:
        rows = [
            *((uri, "mention", m, sort_at) for m in mentions),
            *((uri, "link", link, sort_at) for link in links),
            *((uri, "tag", t, sort_at) for t in tags),
        ]
        yield from insert_facets(rows)

    def _quote(
        self,
        ctx: BatchContext,
        row: IndexedRow,
        write: RecordWrite,
        created_at: str,
        sort_at: str,
    ) -> Steps[None]:
        subject = str(row["embed_uri"])
        added = yield from insert_quote(
            write.uri,
            write.cid,
            write.did,
            subject,
            summarize_embed(write.value.get("embed")).record_cid,
            created_at,
            ctx.indexed_at,
            sort_at,
        )
        if added:
            ctx.bump("post_agg", subject, "quote_count", 1)
        postgate = yield from load_record(gate_uri(subject, "app.bsky.feed.postgate"))
        if violates_embedding_rules(write.did, subject, postgate):
            row["violates_embedding_rules"] = True
            yield from mark_embedding_violation(write.uri)

    def delete(self, ctx: BatchContext, uri: str) -> Steps[IndexedRow | None]:
        yield from remove_feed_items("post_uri", uri)
        row = yield from take_post(uri)
        if row is None:
            return None
        quotes = yield from delete_quotes_of(uri)
        if quotes:
            ctx.bump("post_agg", uri, "quote_count", -quotes)
        yield from delete_facets(uri)
        if _is_post(row["embed_uri"]) and (yield from delete_quote(uri)):
            ctx.bump("post_agg", row["embed_uri"], "quote_count", -1)
        ctx.post_docs[uri] = None
        return row

    def count(self, ctx: BatchContext, row: IndexedRow, delta: int) -> None:
        ctx.bump("profile_agg", row["creator"], "posts_count", delta)
        if row["reply_parent"] and not row["violates_thread_gate"]:
            ctx.bump("post_agg", row["reply_parent"], "reply_count", delta)

    def notifs_for_insert(self, row: IndexedRow) -> list[Notif]:
        author, uri, cid, sort_at = row["creator"], row["uri"], row["cid"], row["sort_at"]
        notified = {author}
        notifs: list[Notif] = []

        def notify(did: str, reason: str, subject: str | None, n: Notif | None = None) -> None:
            if did in notified:
                return
            notified.add(did)
            notifs.append(n or Notif(did, author, uri, cid, reason, subject, sort_at))

        for did in row["mentions"]:
            notify(did, "mention", None)
        if not row["violates_embedding_rules"] and _is_post(row["embed_uri"]):
            notify(uri_did(row["embed_uri"]), "quote", row["embed_uri"])
        if row["violates_thread_gate"]:
            return notifs
        ancestors: list[tuple[str, int]] = row["ancestors"]
        for ancestor, _height in ancestors:
            if ancestor == uri:
                continue
            notify(uri_did(ancestor), "reply", ancestor)
            if ancestor in row["hidden_replies"]:
                break
        for d_uri, d_cid, d_creator, d_sort_at, depth in row["descendants"]:
            for ancestor, height in ancestors:
                if depth + height < REPLY_NOTIF_DEPTH:
                    did = uri_did(ancestor)
                    n = Notif(did, d_creator, d_uri, d_cid, "reply", ancestor, d_sort_at)
                    notify(did, "reply", ancestor, n)
        return notifs

    def notifs_for_delete(
        self, deleted: IndexedRow, replaced_by: IndexedRow | None
    ) -> tuple[list[Notif], list[str]]:
        notifs = self.notifs_for_insert(replaced_by) if replaced_by is not None else []
        return notifs, [deleted["uri"]]
