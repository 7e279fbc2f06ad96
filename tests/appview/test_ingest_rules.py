"""Indexing rules on both databases: lexicon-invalid records, unknown deletes, updates, thread
and post gates, huge threads, out-of-order replies, account deletion, timeline fan-out and
repository snapshots."""

from __future__ import annotations

from typing import Any

import pytest

from sonet.appview.ingest.context import IndexConfig
from sonet.appview.ingest.events import AccountChange, RepoSnapshot
from sonet.appview.ingest.frame_events import FrameDecoder
from sonet.appview.ingest.indexer import Indexer
from sonet.appview.schema import migrate_appview
from sonet.lexicons import Lexicons
from sonet.repo import cbor
from sonet.repo.car import car_bytes
from sonet.repo.mst_proof import RepoOp
from sonet.storage.database import Database
from sonet.sync.events import commit_body
from sonet.xrpc.frames import MessageFrame
from tests.appview.test_ingest_support import NOW, Actor, next_tid, ref, rows, scalar, write

POST = "app.bsky.feed.post"


@pytest.fixture
async def indexer(database: Database) -> Indexer:
    await migrate_appview(database)
    return Indexer(database, IndexConfig(fanout_threshold=3, timeline_backfill=10))


async def agg(db: Database, uri: str) -> tuple[int, ...]:
    found = await rows(
        db,
        "SELECT like_count, repost_count, reply_count, quote_count FROM post_agg WHERE uri = :u",
        u=uri,
    )
    return found[0] if found else (0, 0, 0, 0)


async def notifs(db: Database) -> list[tuple[str, str, str]]:
    return await rows(db, "SELECT did, reason, author FROM notification ORDER BY id")


def frame_of(did: str, records: list[tuple[str, dict[str, Any]]]) -> bytes:
    """A #commit frame creating ``records`` (which need not be valid)."""
    blocks, ops = [], []
    for collection, value in records:
        cid, data = cbor.encode_with_cid(value)
        blocks.append((cid, data))
        ops.append(RepoOp("create", f"{collection}/{next_tid()}", cid))
    commit_cid, commit_block = cbor.encode_with_cid({"did": did})
    rev = next_tid()
    body = commit_body(
        seq=1,
        repo=did,
        commit=commit_cid,
        rev=rev,
        since=None,
        blocks=car_bytes(commit_cid, [(commit_cid, commit_block), *blocks]),
        ops=ops,
        prev_data=None,
        time=NOW,
    )
    return MessageFrame(body, "#commit").to_bytes()


async def test_invalid_records_are_skipped(indexer: Indexer) -> None:
    did = "did:plc:writer"
    decoder = FrameDecoder(Lexicons.bundled())
    good = {"$type": POST, "text": "fine", "createdAt": NOW}
    too_long = {"$type": POST, "text": "x" * 5000, "createdAt": NOW}
    no_date = {"$type": POST, "text": "when?"}
    wrong_type = {"$type": "app.bsky.feed.like", "text": "?", "createdAt": NOW}
    bad_like = {"$type": "app.bsky.feed.like", "subject": "not a ref", "createdAt": NOW}
    decoded = await decoder.decode(
        frame_of(
            did,
            [
                (POST, good),
                (POST, too_long),
                (POST, no_date),
                (POST, wrong_type),
                ("app.bsky.feed.like", bad_like),
                ("com.example.other", {"$type": "com.example.other"}),
            ],
        )
    )
    assert decoded.event is not None
    assert decoder.stats["invalid_records"] == 4
    await indexer.apply([decoded.event])
    assert await scalar(indexer.db, "SELECT COUNT(*) FROM post") == 1
    assert await scalar(indexer.db, "SELECT COUNT(*) FROM record") == 1
    # frames that are not even frames are counted, not raised
    assert (await decoder.decode(b"\x00garbage")).event is None
    assert decoder.stats["malformed_frames"] == 1


async def test_rule_breaking_records_are_skipped(indexer: Indexer) -> None:
    alice, bob = Actor("did:plc:alice"), Actor("did:plc:bob")
    bob_list = write(
        bob.did,
        "app.bsky.graph.list",
        {"name": "mine", "purpose": "app.bsky.graph.defs#curatelist", "createdAt": NOW},
    )
    foreign_item = write(
        alice.did,
        "app.bsky.graph.listitem",
        {"subject": alice.did, "list": bob_list.uri, "createdAt": NOW},
    )
    not_self = write(alice.did, "app.bsky.actor.profile", {"displayName": "x"}, "other")
    post = alice.post()
    wrong_gate = write(
        alice.did,
        "app.bsky.feed.threadgate",
        {"post": post.uri, "allow": [], "createdAt": NOW},
        "3kxxxxxxxxxx2",
    )
    await indexer.apply(
        [bob.commit(bob_list), alice.commit(post, foreign_item, not_self, wrong_gate)]
    )
    db = indexer.db
    assert await scalar(db, "SELECT COUNT(*) FROM list_item") == 0
    assert await scalar(db, "SELECT COUNT(*) FROM profile") == 0
    assert await scalar(db, "SELECT COUNT(*) FROM thread_gate") == 0
    assert indexer.stats["invalid_records"] == 3


async def test_unknown_deletes_and_updates(indexer: Indexer) -> None:
    db = indexer.db
    alice, bob = Actor("did:plc:alice"), Actor("did:plc:bob")
    ghost = alice.post("never seen")
    await indexer.apply(
        [
            alice.commit(
                alice.delete(ghost),
                alice.delete(alice.follow(bob)),
                alice.delete(alice.like(ghost)),
            )
        ]
    )
    assert await scalar(db, "SELECT COUNT(*) FROM record") == 0
    # an update of a record never indexed indexes it
    post = alice.post("v1")
    upd = write(alice.did, POST, {"text": "v1 edited", "createdAt": NOW}, post.rkey, update=True)
    await indexer.apply([alice.commit(upd)])
    assert await scalar(db, "SELECT text FROM post WHERE uri = :u", u=post.uri) == "v1 edited"
    assert await scalar(db, "SELECT posts_count FROM profile_agg WHERE did = :d", d=alice.did) == 1
    # an update replaces rows without changing counts
    liked = bob.like(post)
    await indexer.apply([bob.commit(liked)])
    upd2 = write(alice.did, POST, {"text": "v2", "createdAt": NOW}, post.rkey, update=True)
    await indexer.apply([alice.commit(upd2)])
    assert await scalar(db, "SELECT text FROM post WHERE uri = :u", u=post.uri) == "v2"
    assert await scalar(db, "SELECT posts_count FROM profile_agg WHERE did = :d", d=alice.did) == 1
    assert await agg(db, post.uri) == (1, 0, 0, 0)
    # replaying older commits is skipped by rev
    stale = alice.commit(alice.delete(post), rev="2aaaaaaaaaaaa")
    await indexer.apply([stale])
    assert await scalar(db, "SELECT COUNT(*) FROM post") == 1
    assert indexer.stats["stale_commits"] == 1


async def test_threadgate_and_postgate(indexer: Indexer) -> None:
    db = indexer.db
    alice, bob, carol = Actor("did:plc:alice"), Actor("did:plc:bob"), Actor("did:plc:carol")
    root = alice.post("gated")
    gate = write(
        alice.did,
        "app.bsky.feed.threadgate",
        {
            "post": root.uri,
            "allow": [{"$type": "app.bsky.feed.threadgate#followerRule"}],
            "createdAt": NOW,
        },
        root.rkey,
    )
    postgate = write(
        alice.did,
        "app.bsky.feed.postgate",
        {
            "post": root.uri,
            "embeddingRules": [{"$type": "app.bsky.feed.postgate#disableRule"}],
            "createdAt": NOW,
        },
        root.rkey,
    )
    await indexer.apply([alice.commit(root, gate, postgate), carol.commit(carol.follow(alice))])
    flags = await rows(
        db, "SELECT has_thread_gate, has_post_gate FROM post WHERE uri = :u", u=root.uri
    )
    assert [tuple(bool(v) for v in r) for r in flags] == [(True, True)]
    bob_reply, carol_reply = bob.reply(root), carol.reply(root)
    quote = bob.post("quoting", embed={"$type": "app.bsky.embed.record", "record": ref(root)})
    await indexer.apply([bob.commit(bob_reply, quote), carol.commit(carol_reply)])
    violates = await rows(
        db,
        "SELECT uri, violates_thread_gate, violates_embedding_rules FROM post "
        "WHERE creator <> :a ORDER BY uri",
        a=alice.did,
    )
    flags_by_uri = {u: (bool(t), bool(e)) for u, t, e in violates}
    assert flags_by_uri[bob_reply.uri] == (True, False)
    assert flags_by_uri[carol_reply.uri] == (False, False)
    assert flags_by_uri[quote.uri] == (False, True)
    # bob's reply is not counted and not notified; the refused quote is counted, not notified
    assert await agg(db, root.uri) == (0, 0, 1, 1)
    assert [n for n in await notifs(db) if n[1] in ("reply", "quote")] == [
        (alice.did, "reply", carol.did)
    ]
    # deleting the gate clears the flag; deleting bob's reply leaves the count exact
    await indexer.apply([alice.commit(alice.delete(gate)), bob.commit(bob.delete(bob_reply))])
    assert not await scalar(db, "SELECT has_thread_gate FROM post WHERE uri = :u", u=root.uri)
    assert await agg(db, root.uri) == (0, 0, 1, 1)


async def test_huge_thread(indexer: Indexer) -> None:
    db = indexer.db
    actors = [Actor(f"did:plc:user{i:04d}") for i in range(50)]
    root = actors[0].post("root")
    chain = [root]
    commits = [actors[0].commit(root)]
    for i in range(1, 301):  # a 300-deep reply chain
        author = actors[i % len(actors)]
        reply = author.reply(chain[-1], root)
        chain.append(reply)
        commits.append(author.commit(reply))
    for i in range(2000):  # and 2,000 direct replies to the root
        author = actors[i % len(actors)]
        commits.append(author.commit(author.reply(root, root, f"r{i}")))
    for i in range(0, len(commits), 500):
        await indexer.apply(commits[i : i + 500])
    assert await agg(db, root.uri) == (0, 0, 2001, 0)
    assert await agg(db, chain[150].uri) == (0, 0, 1, 0)
    # each chain reply notifies at most 4 distinct ancestors' authors
    per_record = await rows(
        db,
        "SELECT record_uri, COUNT(*) FROM notification WHERE reason = 'reply' "
        "GROUP BY record_uri ORDER BY 2 DESC LIMIT 1",
    )
    assert per_record[0][1] <= 4
    assert await scalar(db, "SELECT COUNT(*) FROM post WHERE invalid_reply_root = :t", t=True) == 0


async def test_out_of_order_reply(indexer: Indexer) -> None:
    db = indexer.db
    alice, bob = Actor("did:plc:alice"), Actor("did:plc:bob")
    parent = alice.post("parent")
    reply = bob.reply(parent)
    await indexer.apply([bob.commit(reply)])
    assert await notifs(db) == []
    await indexer.apply([alice.commit(parent)])
    # as in the reference: the early reply's root is marked invalid, it is counted, and the
    # late parent's own author is not notified (one notification per DID, author excluded)
    assert await scalar(db, "SELECT invalid_reply_root FROM post WHERE uri = :u", u=reply.uri)
    assert await notifs(db) == []
    assert await agg(db, parent.uri) == (0, 0, 1, 0)
    # a reply in order notifies the parent's and the root's authors
    carol = Actor("did:plc:carol")
    await indexer.apply([carol.commit(carol.reply(reply, parent))])
    assert sorted(await notifs(db)) == [
        (alice.did, "reply", carol.did),
        (bob.did, "reply", carol.did),
    ]


async def test_deleted_account_leaves_exact_counts(indexer: Indexer) -> None:
    db = indexer.db
    alice, bob = Actor("did:plc:alice"), Actor("did:plc:bob")
    post = alice.post()
    await indexer.apply([alice.commit(post, alice.follow(bob))])
    quote = bob.post("q", embed={"$type": "app.bsky.embed.record", "record": ref(post)})
    await indexer.apply(
        [bob.commit(bob.like(post), bob.repost(post), bob.reply(post), quote, bob.follow(alice))]
    )
    assert await agg(db, post.uri) == (1, 1, 1, 1)
    await indexer.apply([AccountChange(None, bob.did, False, "deleted")])
    assert await agg(db, post.uri) == (0, 0, 0, 0)
    followers = await rows(
        db, "SELECT did, followers_count, follows_count, posts_count FROM profile_agg ORDER BY did"
    )
    assert followers == [(alice.did, 0, 1, 1), (bob.did, 1, 0, 0)]
    assert await scalar(db, "SELECT COUNT(*) FROM record WHERE did = :d", d=bob.did) == 0
    assert await scalar(db, "SELECT COUNT(*) FROM notification") == 0
    assert await scalar(db, "SELECT COUNT(*) FROM actor WHERE did = :d", d=bob.did) == 0
    # a deactivation only hides
    await indexer.apply([AccountChange(None, alice.did, False, "deactivated")])
    assert await scalar(db, "SELECT upstream_status FROM actor WHERE did = :d", d=alice.did) == (
        "deactivated"
    )
    await indexer.apply([AccountChange(None, alice.did, True, None)])
    assert await scalar(db, "SELECT upstream_status FROM actor WHERE did = :d", d=alice.did) is None


async def test_timeline_fanout(indexer: Indexer) -> None:
    db = indexer.db
    star = Actor("did:plc:star")
    fans = [Actor(f"did:plc:fan{i}") for i in range(4)]
    small = Actor("did:plc:small")

    async def timeline(owner: Actor) -> list[str]:
        found = await rows(
            db,
            "SELECT f.uri FROM timeline_item t JOIN timeline_actor a ON a.id = t.owner_id "
            "JOIN feed_item f ON f.id = t.item_id WHERE a.did = :o ORDER BY f.sort_at, f.uri",
            o=owner.did,
        )
        return [r[0] for r in found]

    early = small.post("before the follow")
    await indexer.apply([small.commit(early)])
    await indexer.apply([fans[0].commit(fans[0].follow(small))])
    assert await timeline(fans[0]) == [early.uri]  # a new follow copies recent items
    # a post of an account under the threshold (3) is pushed to followers and the author
    p1 = small.post("p1")
    await indexer.apply([small.commit(p1)])
    assert await timeline(fans[0]) == [early.uri, p1.uri]
    assert p1.uri in await timeline(small)
    # an account at the threshold is not pushed (merged at read time instead)
    await indexer.apply([f.commit(f.follow(star)) for f in fans])
    big = star.post("big")
    await indexer.apply([star.commit(big)])
    assert big.uri not in await timeline(fans[1])
    assert await scalar(db, "SELECT COUNT(*) FROM feed_item WHERE uri = :u", u=big.uri) == 1
    # reposts are pushed as their own items; deleting the post removes them everywhere
    rp = fans[0].repost(p1)
    await indexer.apply([fans[0].commit(rp)])
    assert rp.uri in await timeline(fans[0])
    ids = [
        r[0]
        for r in await rows(
            db, "SELECT id FROM feed_item WHERE uri IN (:a, :b)", a=p1.uri, b=rp.uri
        )
    ]
    assert len(ids) == 2
    await indexer.apply([small.commit(small.delete(p1))])
    assert (
        await scalar(
            db, "SELECT COUNT(*) FROM timeline_item WHERE item_id IN (:a, :b)", a=ids[0], b=ids[1]
        )
        == 0
    )
    # an unfollow removes the followee's items
    follow = await scalar(
        db,
        "SELECT uri FROM follow WHERE creator = :c AND subject_did = :s",
        c=fans[0].did,
        s=small.did,
    )
    did, collection, rkey = follow[5:].split("/")
    from sonet.appview.ingest.events import RecordDelete

    await indexer.apply([fans[0].commit(RecordDelete(did, collection, rkey))])
    assert await timeline(fans[0]) == []


async def test_deleted_account_leaves_no_timeline(indexer: Indexer) -> None:
    db = indexer.db
    gone, friend, fan = Actor("did:plc:gone"), Actor("did:plc:friend"), Actor("did:plc:fan")
    await indexer.apply(
        [
            gone.commit(gone.follow(friend)),
            fan.commit(fan.follow(gone)),
            friend.commit(friend.follow(gone)),
        ]
    )
    p = friend.post("seen by gone")
    q = gone.post("seen by fan")
    await indexer.apply([friend.commit(p), gone.commit(q)])

    async def owners() -> set[str]:
        found = await rows(
            db,
            "SELECT a.did FROM timeline_item t JOIN timeline_actor a ON a.id = t.owner_id",
        )
        return {r[0] for r in found}

    assert await owners() == {gone.did, friend.did, fan.did}
    await indexer.apply([AccountChange(None, gone.did, False, "deleted")])
    # its timeline and its items in others' are gone, and it no longer follows anyone
    assert await owners() == {friend.did}
    edges = await rows(
        db,
        "SELECT s.did, f.did FROM timeline_follow e JOIN timeline_actor s ON s.id = e.subject_id "
        "JOIN timeline_actor f ON f.id = e.follower_id ORDER BY 2",
    )
    assert edges == [(gone.did, fan.did), (gone.did, friend.did)]  # others' follow records stay


async def test_repo_snapshot_converges(indexer: Indexer) -> None:
    db = indexer.db
    alice, bob = Actor("did:plc:alice"), Actor("did:plc:bob")
    keep, drop = alice.post("keep"), alice.post("drop")
    await indexer.apply([alice.commit(keep, drop, alice.follow(bob))])
    changed = write(alice.did, POST, {"text": "keep v2", "createdAt": NOW}, keep.rkey)
    fresh = alice.like(keep)
    snapshot = RepoSnapshot(
        None, alice.did, next_tid(), "bafysnap", NOW, {changed.uri: changed, fresh.uri: fresh}
    )
    await indexer.apply([snapshot])
    assert await rows(db, "SELECT uri, text FROM post") == [(keep.uri, "keep v2")]
    assert await scalar(db, "SELECT COUNT(*) FROM follow") == 0
    assert await agg(db, keep.uri) == (1, 0, 0, 0)
    assert await scalar(db, "SELECT posts_count FROM profile_agg WHERE did = :d", d=alice.did) == 1
