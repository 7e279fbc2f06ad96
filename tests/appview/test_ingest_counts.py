"""Exact counts under creates, updates, deletes, duplicates and replays, on both databases."""

from __future__ import annotations

import pytest

from sonet.appview.ingest.indexer import Indexer
from sonet.appview.schema import migrate_appview
from sonet.storage.database import Database
from tests.appview.test_ingest_support import Actor, rows, scalar


@pytest.fixture
async def indexer(database: Database) -> Indexer:
    await migrate_appview(database)
    return Indexer(database)


async def post_counts(db: Database, uri: str) -> tuple[int, ...]:
    found = await rows(
        db,
        "SELECT like_count, repost_count, reply_count, quote_count FROM post_agg WHERE uri = :u",
        u=uri,
    )
    return found[0] if found else (0, 0, 0, 0)


async def test_likes_reposts_replies_counted_and_uncounted(indexer: Indexer) -> None:
    db = indexer.db
    alice, bob, carol = Actor("did:plc:alice"), Actor("did:plc:bob"), Actor("did:plc:carol")
    post = alice.post("first")
    await indexer.apply([alice.commit(post)])
    like_b, like_c = bob.like(post), carol.like(post)
    repost = bob.repost(post)
    reply = carol.reply(post)
    commits = [bob.commit(like_b, repost), carol.commit(like_c, reply)]
    await indexer.apply(commits)
    assert await post_counts(db, post.uri) == (2, 1, 1, 0)
    # replaying the same commits changes nothing
    await indexer.apply(commits)
    assert await post_counts(db, post.uri) == (2, 1, 1, 0)
    # a second like of the same post by bob is a duplicate: not counted
    dup = bob.like(post)
    await indexer.apply([bob.commit(dup)])
    assert await post_counts(db, post.uri) == (2, 1, 1, 0)
    # deleting the original promotes the duplicate
    await indexer.apply([bob.commit(bob.delete(like_b))])
    assert await post_counts(db, post.uri) == (2, 1, 1, 0)
    await indexer.apply([bob.commit(bob.delete(dup))])
    assert await post_counts(db, post.uri) == (1, 1, 1, 0)
    # deleting something never indexed is a no-op
    await indexer.apply([bob.commit(bob.delete(bob.like(post)))])
    assert await post_counts(db, post.uri) == (1, 1, 1, 0)
    await indexer.apply([carol.commit(carol.delete(reply), carol.delete(like_c))])
    assert await post_counts(db, post.uri) == (0, 1, 0, 0)
    assert await scalar(db, "SELECT posts_count FROM profile_agg WHERE did = 'did:plc:carol'") == 0
    assert await scalar(db, "SELECT posts_count FROM profile_agg WHERE did = 'did:plc:alice'") == 1
    reasons = await rows(db, "SELECT did, reason, author FROM notification ORDER BY id")
    assert ("did:plc:alice", "repost", "did:plc:bob") in reasons
    # the reference keeps a replaced like's notification (its record is gone, so readers drop it)
    live_likes = await scalar(
        db,
        "SELECT COUNT(*) FROM notification n JOIN record r ON r.uri = n.record_uri "
        "WHERE n.reason = 'like'",
    )
    assert live_likes == 0
