"""AppView index: posts and what hangs off them (likes, reposts, quotes, gates, feeds, timelines).

Tables (``record_columns``: uri, cid, creator, created_at, indexed_at, sort_at):

- ``post``: ``app.bsky.feed.post``: text; ``reply_root``/``reply_parent`` URIs and CIDs;
  ``embed_kind`` (``images``, ``external``, ``record``, ``recordWithMedia``, ``video``) and
  ``media_kind`` (``images``, ``external`` or ``video``, including the media of a
  recordWithMedia: authorFeed's media filters); ``embed_uri``/``embed_cid`` (the embedded record
  of a record/recordWithMedia embed: a quote when it is a post); ``langs`` and ``tags`` as JSON
  arrays; flags as the reference AppView sets them: ``invalid_reply_root`` (parent/root do not
  form a thread), ``violates_thread_gate`` (reply not allowed by the root's threadgate: not
  counted, not notified), ``violates_embedding_rules`` (quote refused by the quoted post's
  postgate), ``has_thread_gate``, ``has_post_gate``.
- ``post_facet``: one row per distinct mention (DID), link (URI) and tag (lowercase, from ``#``
  facets and the record's ``tags``) of a post, with the post's ``sort_at`` (trending tags).
- ``quote``: posts that embed another post (``subject``), for getQuotes.
- ``post_agg``: exact counts per subject URI (the subject need not be indexed yet: a like of a
  missing post is kept and already counted when the post arrives, as the reference does):
  likes, reposts, replies (excluding threadgate violations), quotes.
- ``like``, ``repost``: subject/via URIs and CIDs; one per (creator, subject), repeats go to
  ``duplicate_record``.
- ``feed_item``: author-feed entries, a post (``uri`` = ``post_uri``) or a repost (``uri`` is
  the repost, ``post_uri`` the reposted post), by ``originator_did``.
- ``timeline_item`` (step 1, replaced by :mod:`sonet.storage.appview_timeline_tables`, which
  also gives ``feed_item`` an integer ``id``).
- ``thread_gate``, ``post_gate``: the gate record of ``post_uri`` (same creator and rkey).
- ``feed_generator``: ``app.bsky.feed.generator``: the generator's service DID, name, text.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, Table, Text, false

from sonet.storage.appview_record_tables import record_columns
from sonet.storage.migrations import Migration

__all__ = [
    "MIGRATIONS",
    "feed_generator",
    "feed_item",
    "like",
    "meta",
    "post",
    "post_agg",
    "post_facet",
    "post_gate",
    "quote",
    "repost",
    "thread_gate",
]

meta = MetaData()


def _flag(name: str) -> Column[bool]:
    return Column(name, Boolean, nullable=False, server_default=false())


post = Table(
    "post",
    meta,
    *record_columns(),
    Column("text", Text, nullable=False),
    Column("reply_root", Text),
    Column("reply_root_cid", Text),
    Column("reply_parent", Text),
    Column("reply_parent_cid", Text),
    Column("embed_kind", Text),
    Column("media_kind", Text),
    Column("embed_uri", Text),
    Column("embed_cid", Text),
    Column("langs", Text),
    Column("tags", Text),
    _flag("invalid_reply_root"),
    _flag("violates_thread_gate"),
    _flag("violates_embedding_rules"),
    _flag("has_thread_gate"),
    _flag("has_post_gate"),
    Index("post_creator_sort", "creator", "sort_at"),
    Index("post_reply_parent", "reply_parent"),
    Index("post_reply_root", "reply_root"),
)

post_facet = Table(
    "post_facet",
    meta,
    Column("post_uri", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("value", Text, primary_key=True),
    Column("sort_at", Text, nullable=False),
    Index("post_facet_value", "kind", "value", "sort_at"),
    Index("post_facet_recent", "kind", "sort_at"),
    sqlite_with_rowid=False,
)

quote = Table(
    "quote",
    meta,
    *record_columns(),
    Column("subject", Text, nullable=False),
    Column("subject_cid", Text, nullable=False),
    Index("quote_subject", "subject", "sort_at"),
)

post_agg = Table(
    "post_agg",
    meta,
    Column("uri", Text, primary_key=True),
    Column("like_count", Integer, nullable=False, server_default="0"),
    Column("repost_count", Integer, nullable=False, server_default="0"),
    Column("reply_count", Integer, nullable=False, server_default="0"),
    Column("quote_count", Integer, nullable=False, server_default="0"),
    sqlite_with_rowid=False,
)


def _subject_table(name: str) -> Table:
    return Table(
        name,
        meta,
        *record_columns(),
        Column("subject", Text, nullable=False),
        Column("subject_cid", Text, nullable=False),
        Column("via", Text),
        Column("via_cid", Text),
        Index(f"{name}_unique_subject", "creator", "subject", unique=True),
        Index(f"{name}_subject_sort", "subject", "sort_at"),
    )


like = _subject_table("like")
repost = _subject_table("repost")

feed_item = Table(
    "feed_item",
    meta,
    Column("uri", Text, primary_key=True),
    Column("cid", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("post_uri", Text, nullable=False),
    Column("originator_did", Text, nullable=False),
    Column("sort_at", Text, nullable=False),
    Index("feed_item_originator_sort", "originator_did", "sort_at"),
    Index("feed_item_post", "post_uri"),
)

_legacy_timeline_item = Table(
    "timeline_item",
    meta,
    Column("owner_did", Text, primary_key=True),
    Column("sort_at", Text, primary_key=True),
    Column("uri", Text, primary_key=True),
    sqlite_with_rowid=False,
)


def _gate_table(name: str) -> Table:
    return Table(
        name,
        meta,
        *record_columns(),
        Column("post_uri", Text, nullable=False),
        Index(f"{name}_post", "post_uri", unique=True),
        sqlite_with_rowid=False,
    )


thread_gate = _gate_table("thread_gate")
post_gate = _gate_table("post_gate")

feed_generator = Table(
    "feed_generator",
    meta,
    *record_columns(),
    Column("feed_did", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("description", Text),
    Column("avatar_cid", Text),
    Index("feed_generator_creator", "creator", "sort_at"),
)

MIGRATIONS = [
    Migration(
        1,
        "appview posts, likes, reposts, quotes, gates, feeds and timelines",
        tables=[
            post,
            post_facet,
            quote,
            post_agg,
            like,
            repost,
            feed_item,
            _legacy_timeline_item,
            thread_gate,
            post_gate,
            feed_generator,
        ],
    ),
    Migration(
        2,
        "appview read paths: an actor's likes, newest first",
        sql=['CREATE INDEX IF NOT EXISTS like_creator_sort ON "like" (creator, sort_at)'],
    ),
    Migration(
        3,
        "appview read paths: an author's feed items answered from the index alone",
        sql=[
            "CREATE INDEX IF NOT EXISTS feed_item_originator_cover "
            "ON feed_item (originator_did, sort_at, uri, post_uri)"
        ],
    ),
]
