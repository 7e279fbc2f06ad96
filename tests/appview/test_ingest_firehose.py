"""End to end on loopback: a real Sonet PDS (registered in a real PLC directory) writes records;
the AppView consumes its firehose, verifying commits as a relay would, and indexes them; then
resumes after a restart without double counting, hides a taken-down account, backfills another
database to the same state and rejects forged commits. On both databases for both sides."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sonet.appview.ingest.backfill import Backfiller
from sonet.appview.ingest.commit_reader import CommitVerifier
from sonet.appview.ingest.firehose import FirehoseConsumer
from sonet.appview.ingest.frame_events import FrameDecoder
from sonet.appview.ingest.handles import HandleRefresher, verified_handle_or_none
from sonet.appview.ingest.indexer import Indexer
from sonet.appview.ingest.pipeline import IngestPipeline
from sonet.appview.ingest.repo_fetch import RepoFetcher
from sonet.appview.ingest.service import IngestConfig, IngestService
from sonet.appview.schema import migrate_appview
from sonet.appview.search.index import SearchIndex
from sonet.appview.search.query import search_actors, search_posts
from sonet.appview.search.updater import SearchUpdater
from sonet.crypto import generate_keypair
from sonet.identity.did_resolver import DidResolver
from sonet.identity.handle_resolver import HandleResolver
from sonet.identity.plc_client import create_did
from sonet.identity.plc_server import create_app
from sonet.lexicons import Lexicons
from sonet.net import HttpClient, HttpClientConfig
from sonet.pds.accounts.directory import AccountDirectory
from sonet.pds.repo_writes import WriteRequest
from sonet.repo import cbor
from sonet.storage.database import Database, sqlite_url
from sonet.storage.plc_store import PlcStore, migrate_plc
from sonet.sync.events import account_body, commit_body
from sonet.sync.identities import IdentityDirectory
from sonet.xrpc.frames import MessageFrame
from tests.appview.test_ingest_support import rows, scalar
from tests.net.servers import DnsZone, serve_app, serve_dns
from tests.pds.conftest import PdsFactory, RunningPds, pds_factory  # noqa: F401

SYNC_AREA = "sonet.pds.api.sync"
NOW = "2025-03-01T10:00:00.000Z"


@dataclass
class World:
    """A PDS with PLC-registered accounts, and an AppView ingest stack reading it directly."""

    pds: RunningPds
    plc_url: str
    http: HttpClient
    db: Database
    tmp: Path
    zone: DnsZone
    dns_port: int
    dids: dict[str, str] = field(default_factory=dict)
    uris: dict[str, str] = field(default_factory=dict)
    stacks: int = 0

    async def account(self, name: str) -> str:
        ctx = self.pds.ctx
        key, rotation = generate_keypair(), generate_keypair()
        handle = f"{name}.test"
        created = await create_did(
            self.plc_url,
            key,
            [rotation],
            handle,
            ctx.config.public_url,
            session=self.http.session(),
        )
        async with ctx.sequencer.transaction() as tx:
            await ctx.accounts.store.insert(
                tx.conn, AccountDirectory.new_row(created.did, handle, key)
            )
            await ctx.repos.create_repo(tx, created.did, key)
        self.dids[name] = created.did
        self.zone.records[(f"_atproto.{handle}", "TXT")] = [f'"did={created.did}"']
        return created.did

    async def write(
        self, name: str, collection: str, record: dict[str, Any], rkey: str | None = None
    ) -> str:
        did = self.dids[name]
        request = WriteRequest("create", collection, rkey, {"createdAt": NOW, **record})
        result = await self.pds.ctx.repos.apply_writes(did, [request])
        out = result.results[0]
        uri = str(getattr(out, "uri", None) or out["uri"])  # type: ignore[index]
        cid = getattr(out, "cid", None) or out["cid"]  # type: ignore[index]
        self.uris[uri] = cid if isinstance(cid, str) else cid.encode()
        return uri

    async def delete(self, uri: str) -> None:
        did, collection, rkey = uri[5:].split("/")
        await self.pds.ctx.repos.apply_writes(did, [WriteRequest("delete", collection, rkey)])

    def ref(self, uri: str) -> dict[str, str]:
        return {"uri": uri, "cid": self.uris[uri]}

    def resolver(self) -> DidResolver:
        return DidResolver(self.http, plc_url=self.plc_url)

    def handles(self) -> HandleResolver:
        return HandleResolver(
            self.http, nameservers=("127.0.0.1",), dns_port=self.dns_port, timeout=0.5
        )

    def stack(
        self, search: SearchIndex | None = None
    ) -> tuple[Indexer, IngestPipeline, SearchIndex]:
        db = self.db
        if search is None:
            self.stacks += 1
            search = SearchIndex(self.tmp / f"search-{self.stacks}", commit_interval=0.05)
        indexer = Indexer(db, search=SearchUpdater(db, search))
        verifier = CommitVerifier(
            IdentityDirectory(self.resolver()), self.pds.ctx.config.public_url
        )
        pipeline = IngestPipeline(
            indexer, FrameDecoder(Lexicons.bundled(), verifier), self.pds.url, max_batch=7
        )
        return indexer, pipeline, search

    async def consume(self, pipeline: IngestPipeline) -> None:
        """Run a consumer until everything the PDS sequenced so far is indexed."""
        consumer = FirehoseConsumer(pipeline, self.pds.url, self.http.session(), initial_cursor=0)
        task = asyncio.create_task(consumer.run())
        latest = self.pds.ctx.sequencer.latest
        for _ in range(500):
            if (pipeline.indexed_seq or 0) >= latest:
                break
            await asyncio.sleep(0.02)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await consumer.stop()
        assert (pipeline.indexed_seq or 0) >= latest


@pytest.fixture
async def world(
    pds_factory: PdsFactory,  # noqa: F811
    database: Database,
    tmp_path: Path,
) -> AsyncIterator[World]:
    plc_db = Database.open(sqlite_url(tmp_path / "plc.sqlite"))
    await migrate_plc(plc_db)
    await migrate_appview(database)
    http = HttpClient(HttpClientConfig(allow_private=True))
    zone = DnsZone()
    async with serve_app(create_app(PlcStore(plc_db))) as plc_port, serve_dns(zone) as dns_port:
        plc_url = f"http://127.0.0.1:{plc_port}"
        pds = await pds_factory(areas=[SYNC_AREA], plc_url=plc_url)
        yield World(pds, plc_url, http, database, tmp_path, zone, dns_port)
    await http.close()
    await plc_db.close()


async def counts(db: Database, uri: str) -> tuple[int, ...]:
    found = await rows(
        db,
        "SELECT like_count, repost_count, reply_count, quote_count FROM post_agg WHERE uri = :u",
        u=uri,
    )
    return found[0] if found else (0, 0, 0, 0)


async def build_network(w: World) -> dict[str, str]:
    for name in ("alice", "bob", "carol"):
        await w.account(name)
    alice, bob, carol = (w.dids[n] for n in ("alice", "bob", "carol"))
    await w.write("alice", "app.bsky.actor.profile", {"displayName": "Alice Liddell"}, "self")
    await w.write("carol", "app.bsky.actor.profile", {"displayName": "Carol Cat"}, "self")
    post = await w.write(
        "alice",
        "app.bsky.feed.post",
        {
            "text": "hello #sonet world, see example.com @bob.test",
            "langs": ["en"],
            "facets": [
                {
                    "index": {"byteStart": 6, "byteEnd": 12},
                    "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "Sonet"}],
                },
                {
                    "index": {"byteStart": 24, "byteEnd": 35},
                    "features": [
                        {
                            "$type": "app.bsky.richtext.facet#link",
                            "uri": "https://www.example.com/x",
                        }
                    ],
                },
                {
                    "index": {"byteStart": 36, "byteEnd": 45},
                    "features": [{"$type": "app.bsky.richtext.facet#mention", "did": bob}],
                },
            ],
        },
    )
    await w.write("bob", "app.bsky.graph.follow", {"subject": alice})
    await w.write("carol", "app.bsky.graph.follow", {"subject": alice})
    await w.write("bob", "app.bsky.feed.like", {"subject": w.ref(post)})
    await w.write("carol", "app.bsky.feed.like", {"subject": w.ref(post)})
    await w.write("carol", "app.bsky.feed.repost", {"subject": w.ref(post)})
    reply = await w.write(
        "bob",
        "app.bsky.feed.post",
        {"text": "a reply", "reply": {"root": w.ref(post), "parent": w.ref(post)}},
    )
    await w.write(
        "carol",
        "app.bsky.feed.post",
        {
            "text": "quoting alice",
            "embed": {"$type": "app.bsky.embed.record", "record": w.ref(post)},
        },
    )
    # a like that is deleted again, and a like of a post that does not exist
    gone = await w.write("bob", "app.bsky.feed.like", {"subject": w.ref(reply)})
    await w.delete(gone)
    missing = f"at://{carol}/app.bsky.feed.post/3kzzzzzzzzzzz"
    w.uris[missing] = w.uris[post]
    await w.write("alice", "app.bsky.feed.like", {"subject": w.ref(missing)})
    return {"post": post, "reply": reply, "missing": missing}


async def check_network(db: Database, w: World, uris: dict[str, str]) -> None:
    alice, bob = w.dids["alice"], w.dids["bob"]
    assert await counts(db, uris["post"]) == (2, 1, 1, 1)
    assert await counts(db, uris["reply"]) == (0, 0, 0, 0)
    assert await counts(db, uris["missing"]) == (1, 0, 0, 0)
    agg = await rows(
        db,
        "SELECT followers_count, follows_count, posts_count FROM profile_agg WHERE did = :d",
        d=alice,
    )
    assert agg == [(2, 0, 1)]
    assert await scalar(db, "SELECT display_name FROM profile WHERE creator = :d", d=alice) == (
        "Alice Liddell"
    )
    tags = await rows(
        db, "SELECT kind, value FROM post_facet WHERE post_uri = :u ORDER BY kind", u=uris["post"]
    )
    assert tags == [("link", "https://www.example.com/x"), ("mention", bob), ("tag", "sonet")]


async def check_notifications(db: Database, w: World) -> None:
    alice, bob, carol = (w.dids[n] for n in ("alice", "bob", "carol"))
    found = await rows(db, "SELECT did, reason, author FROM notification ORDER BY id")
    assert sorted(found) == sorted(
        [
            (bob, "mention", alice),
            (alice, "follow", bob),
            (alice, "follow", carol),
            (alice, "like", bob),
            (alice, "like", carol),
            (alice, "repost", carol),
            (alice, "reply", bob),
            (alice, "quote", carol),
            (carol, "like", alice),
        ]
    )


async def test_firehose_verified_indexed_resumed_and_backfilled(world: World) -> None:
    w = world
    uris = await build_network(w)
    indexer, pipeline, search = w.stack()
    refresher = HandleRefresher(indexer, verified_handle_or_none(w.resolver(), w.handles()))
    indexer.on_handles = refresher.request
    refresher.start()
    await w.consume(pipeline)
    await check_network(w.db, w, uris)
    await check_notifications(w.db, w)
    assert indexer.stats["invalid_records"] == 0
    assert pipeline.decoder.stats["rejected_events"] == 0

    # handles were verified both ways (DNS TXT -> DID, DID document -> handle)
    await refresher.drain()
    handles = await rows(w.db, "SELECT did, handle FROM actor ORDER BY handle")
    assert sorted(handles) == sorted((did, f"{n}.test") for n, did in w.dids.items())
    # a handle that no longer resolves back is dropped on the next #identity refresh
    del w.zone.records[("_atproto.bob.test", "TXT")]
    await refresher.request([w.dids["bob"]])
    await refresher.drain()
    bob_handle = await scalar(w.db, "SELECT handle FROM actor WHERE did = :d", d=w.dids["bob"])
    assert bob_handle is None
    await refresher.stop()

    # search sees the posts and the actors
    await search.commit()
    assert search_posts(search, "hello").items == [uris["post"]]
    assert search_posts(search, "*", tag=["sonet"]).items == [uris["post"]]
    assert search_posts(search, "*", domain="example.com").items == [uris["post"]]
    assert search_posts(search, "*", mentions=w.dids["bob"]).items == [uris["post"]]
    assert search_posts(search, "*", author=w.dids["carol"], sort="latest").hits_total == 1
    assert search_actors(search, "ali", typeahead=True).items == [w.dids["alice"]]
    assert search_actors(search, "alice.te", typeahead=True).items == [w.dids["alice"]]
    assert search_actors(search, "liddell").items == [w.dids["alice"]]
    assert search_actors(search, "carol").items == [w.dids["carol"]]

    # a restart resumes from the saved cursor: new events only, nothing counted twice
    await w.write("bob", "app.bsky.feed.repost", {"subject": w.ref(uris["post"])})
    _, pipeline2, _ = w.stack(search)
    await w.consume(pipeline2)
    assert await counts(w.db, uris["post"]) == (2, 2, 1, 1)

    # a takedown on the PDS's #account event hides the actor (and drops it from search)
    carol = w.dids["carol"]
    async with w.pds.ctx.sequencer.transaction() as tx:
        await tx.sequence(
            carol,
            "#account",
            lambda seq: MessageFrame(
                account_body(seq=seq, did=carol, time=NOW, active=False, status="takendown"),
                "#account",
            ).to_bytes(),
        )
    _, pipeline3, _ = w.stack(search)
    await w.consume(pipeline3)
    status = await scalar(w.db, "SELECT upstream_status FROM actor WHERE did = :d", d=carol)
    assert status == "takendown"
    await search.commit()
    assert search_actors(search, "carol").items == []
    await search.close()


async def test_backfill_reaches_the_same_index(world: World, tmp_path: Path) -> None:
    w = world
    uris = await build_network(w)
    http = w.http.session()
    indexer, _, search = w.stack()
    backfiller = Backfiller(indexer, RepoFetcher(http, w.resolver(), Lexicons.bundled()), http)
    report = await backfiller.backfill_host(w.pds.url)
    assert (report.listed, report.indexed, report.failed) == (3, 3, 0)
    # backfill sees final states only: the deleted like never existed for it
    await check_network(w.db, w, uris)
    # a second backfill fetches nothing (revs already indexed)
    again = await backfiller.backfill_host(w.pds.url)
    assert (again.indexed, again.skipped) == (0, 3)
    # the firehose after a backfill skips the commits the snapshots already hold
    _, pipeline, _ = w.stack()
    await w.consume(pipeline)
    assert await counts(w.db, uris["post"]) == (2, 1, 1, 1)
    await search.close()


async def test_forged_commits_are_rejected(world: World) -> None:
    w = world
    did = await w.account("mallory")
    await w.write("mallory", "app.bsky.feed.post", {"text": "genuine"})
    _, pipeline, search = w.stack()
    wrong_key = generate_keypair()
    record = {"$type": "app.bsky.feed.post", "text": "forged", "createdAt": NOW}
    cid, block = cbor.encode_with_cid(record)
    from sonet.repo.car import car_bytes
    from sonet.repo.commit import sign_commit
    from sonet.repo.mst_proof import RepoOp

    commit = sign_commit(did, cid, "3lzzzzzzzzzz2", wrong_key)
    commit_cid, commit_block = commit.to_block()
    frame = MessageFrame(
        commit_body(
            seq=10_000,
            repo=did,
            commit=commit_cid,
            rev="3lzzzzzzzzzz2",
            since="3lzzzzzzzzzz1",
            blocks=car_bytes(commit_cid, [(commit_cid, commit_block), (cid, block)]),
            ops=[RepoOp("create", "app.bsky.feed.post/3lzzzzzzzzzz2", cid)],
            prev_data=cid,
            time=NOW,
        ),
        "#commit",
    ).to_bytes()
    decoded = await pipeline.feed(frame)
    assert decoded is not None
    assert decoded.event is None and decoded.problems
    assert pipeline.decoder.stats["rejected_events"] == 1
    await search.close()


@pytest.mark.parametrize("trusted", [True, False], ids=["as-relay", "verified"])
async def test_ingest_service(world: World, trusted: bool) -> None:
    w = world
    uris = await build_network(w)
    url = w.pds.ctx.config.public_url
    search = SearchIndex(w.tmp / "service-search", commit_interval=0.05)
    config = IngestConfig(
        relay_urls=[url] if trusted else [],
        pds_urls=[] if trusted else [url],
        start_cursor=0,
    )
    service = IngestService(
        w.db, config, http=w.http, dids=w.resolver(), handles=w.handles(), search=search
    )
    await service.start()
    try:
        for _ in range(500):
            if await counts(w.db, uris["post"]) == (2, 1, 1, 1):
                break
            await asyncio.sleep(0.02)
        await check_network(w.db, w, uris)
        await service.handles.drain()
        assert await scalar(w.db, "SELECT handle FROM actor WHERE did = :d", d=w.dids["alice"]) == (
            "alice.test"
        )
    finally:
        await service.stop()
        await search.close()
