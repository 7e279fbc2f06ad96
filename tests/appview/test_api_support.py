"""Shared fixtures of the AppView read-API tests: a real loopback PLC directory, accounts with
K-256 keys and did:plc identities, a blob-serving PDS stub, an index filled through the
ingestion indexer, and the AppView served on loopback with output validation; calls carry real
service JWTs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from sonet.appview.api.context import AppviewContext
from sonet.appview.app import build_appview_app, create_appview
from sonet.appview.config import AppviewConfig
from sonet.appview.ingest.actors import set_handle
from sonet.appview.ingest.context import IndexConfig
from sonet.appview.ingest.events import CommitItem, IndexEvent, RecordDelete, RecordWrite
from sonet.appview.ingest.indexer import Indexer
from sonet.appview.ingest.times import now_iso
from sonet.appview.search.index import SearchIndex
from sonet.appview.search.updater import SearchUpdater
from sonet.crypto import Keypair, generate_keypair
from sonet.identity.plc_client import create_did
from sonet.identity.plc_server import create_app
from sonet.repo import cbor
from sonet.repo.cid import CID, cid_for_raw
from sonet.storage.database import Database, sqlite_url
from sonet.storage.plc_store import PlcStore, migrate_plc
from sonet.syntax.tid import tid_from
from sonet.xrpc.service_jwt import create_service_jwt
from tests.net.servers import serve_app

APPVIEW_DID = "did:web:appview.test"
NOW = "2025-01-01T00:00:00.000Z"
_clock = count(1_700_000_000_000_000)


def next_tid() -> str:
    """A fresh, increasing TID."""
    return tid_from(next(_clock), 0)


def at(seconds: int) -> str:
    """A fixed datetime ``seconds`` after 2025-01-01 (records sort by it)."""
    base = 1_735_689_600
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(base + seconds))


@dataclass
class Account:
    """A test account: DID, handle and signing key."""

    name: str
    did: str
    handle: str
    key: Keypair


@dataclass
class BlobStore:
    """Blobs a loopback PDS stub serves at ``com.atproto.sync.getBlob``."""

    blobs: dict[tuple[str, str], bytes] = field(default_factory=dict)
    fetches: int = 0

    def put(self, did: str, data: bytes) -> str:
        cid = cid_for_raw(data).encode()
        self.blobs[(did, cid)] = data
        return cid

    def app(self) -> web.Application:
        async def get_blob(request: web.Request) -> web.Response:
            self.fetches += 1
            key = (request.query.get("did", ""), request.query.get("cid", ""))
            data = self.blobs.get(key)
            if data is None:
                return web.json_response({"error": "BlobNotFound", "message": "nope"}, status=400)
            return web.Response(body=data, content_type="application/octet-stream")

        app = web.Application()
        app.router.add_get("/xrpc/com.atproto.sync.getBlob", get_blob)
        return app


def blob_ref(cid: str, mime: str = "image/png", size: int = 100) -> dict[str, Any]:
    """A blob reference to ``cid`` (data-model form)."""
    return {"$type": "blob", "ref": CID.decode(cid), "mimeType": mime, "size": size}


@dataclass
class World:
    """An index, its AppView on loopback and the accounts writing into it."""

    db: Database
    indexer: Indexer
    search: SearchIndex
    ctx: AppviewContext
    client: TestClient[Any, Any]
    plc_url: str
    pds_url: str
    blobs: BlobStore
    http: aiohttp.ClientSession
    accounts: dict[str, Account] = field(default_factory=dict)

    async def account(self, name: str, handle: str | None = None) -> Account:
        """A new account with a did:plc in the loopback directory and an indexed handle."""
        key = generate_keypair()
        handle = handle or f"{name}.test"
        created = await create_did(
            self.plc_url, key, [key], handle, self.pds_url, session=self.http
        )
        acct = Account(name, created.did, handle, key)
        self.accounts[name] = acct
        await self.indexer.run(set_handle(acct.did, handle, now_iso()))
        await self.apply(CommitItem(None, acct.did, next_tid(), "bafycommit", NOW, []))
        await self.indexer.search.refresh_actors({acct.did})  # type: ignore[union-attr]
        return acct

    async def new_accounts(self, *names: str) -> list[Account]:
        """Several new accounts."""
        return [await self.account(name) for name in names]

    async def apply(self, *events: IndexEvent) -> None:
        await self.indexer.apply(list(events))
        await self.search.commit()

    def build(
        self,
        who: Account,
        collection: str,
        value: dict[str, Any],
        rkey: str | None = None,
        *,
        update: bool = False,
    ) -> RecordWrite:
        """A record written by ``who`` (``$type`` and ``createdAt`` filled in), not indexed."""
        value = {"$type": collection, "createdAt": NOW, **value}
        cid, data = cbor.encode_with_cid(value)
        return RecordWrite(
            "update" if update else "create",
            who.did,
            collection,
            rkey or next_tid(),
            cid.encode(),
            data,
            cbor.decode(data),
        )

    async def commit(self, *records: RecordWrite) -> None:
        """Index records in one batch (one commit per record, in order)."""
        await self.apply(
            *(CommitItem(None, r.did, next_tid(), "bafycommit", now_iso(), [r]) for r in records)
        )

    async def write(
        self,
        who: Account,
        collection: str,
        value: dict[str, Any],
        rkey: str | None = None,
        *,
        update: bool = False,
    ) -> RecordWrite:
        """Index one record written by ``who`` (see :meth:`build`)."""
        rec = self.build(who, collection, value, rkey, update=update)
        await self.commit(rec)
        return rec

    async def delete(self, rec: RecordWrite) -> None:
        op = RecordDelete(rec.did, rec.collection, rec.rkey)
        await self.apply(CommitItem(None, rec.did, next_tid(), "bafycommit", now_iso(), [op]))

    # record shortcuts

    async def post(self, who: Account, text: str = "hello", **extra: Any) -> RecordWrite:
        return await self.write(who, "app.bsky.feed.post", {"text": text, **extra})

    async def reply(
        self, who: Account, parent: RecordWrite, root: RecordWrite | None = None, text: str = "re"
    ) -> RecordWrite:
        reply = {"root": ref(root or parent), "parent": ref(parent)}
        return await self.post(who, text, reply=reply)

    async def like(self, who: Account, subject: RecordWrite) -> RecordWrite:
        return await self.write(who, "app.bsky.feed.like", {"subject": ref(subject)})

    async def repost(self, who: Account, subject: RecordWrite) -> RecordWrite:
        return await self.write(who, "app.bsky.feed.repost", {"subject": ref(subject)})

    async def follow(self, who: Account, other: Account) -> RecordWrite:
        return await self.write(who, "app.bsky.graph.follow", {"subject": other.did})

    async def block(self, who: Account, other: Account) -> RecordWrite:
        return await self.write(who, "app.bsky.graph.block", {"subject": other.did})

    async def profile(self, who: Account, **fields: Any) -> RecordWrite:
        return await self.write(who, "app.bsky.actor.profile", fields, rkey="self")

    # calls

    def token(self, who: Account, nsid: str, **claims: Any) -> str:
        return create_service_jwt(
            claims.pop("key", who.key),
            claims.pop("iss", who.did),
            claims.pop("aud", APPVIEW_DID),
            claims.pop("lxm", nsid),
            **claims,
        )

    async def call(
        self,
        nsid: str,
        as_: Account | None = None,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Call the AppView; returns (status, JSON body or None)."""
        sent = dict(headers or {})
        if as_ is not None:
            sent["Authorization"] = f"Bearer {self.token(as_, nsid)}"
        query: list[tuple[str, str]] = []
        for name, value in (params or {}).items():
            values = value if isinstance(value, list | tuple) else [value]
            query += [(name, str(v).lower() if isinstance(v, bool) else str(v)) for v in values]
        if body is not None:
            resp = await self.client.post(f"/xrpc/{nsid}", json=body, headers=sent)
        else:
            resp = await self.client.get(f"/xrpc/{nsid}", params=query, headers=sent)
        data = await resp.read()
        return resp.status, (await resp.json() if data else None)

    async def ok(self, nsid: str, as_: Account | None = None, **kwargs: Any) -> Any:
        status, out = await self.call(nsid, as_, **kwargs)
        assert status == 200, (nsid, status, out)
        return out

    async def fails(
        self, nsid: str, as_: Account | None, status: int, error: str, **kwargs: Any
    ) -> str:
        got, out = await self.call(nsid, as_, **kwargs)
        assert (got, (out or {}).get("error")) == (status, error), out
        return str(out.get("message"))


def ref(rec: RecordWrite) -> dict[str, str]:
    """A strong ref to a record."""
    return {"uri": rec.uri, "cid": rec.cid}


@pytest.fixture(name="plc_url")
async def fixture_plc_url(tmp_path: Path) -> AsyncIterator[str]:
    """A real Sonet PLC directory on loopback."""
    db = Database.open(sqlite_url(tmp_path / "plc.sqlite"))
    await migrate_plc(db)
    async with serve_app(create_app(PlcStore(db))) as port:
        yield f"http://127.0.0.1:{port}"
    await db.close()


async def start_world(
    database: Database,
    tmp_path: Path,
    plc: str,
    *,
    fanout_threshold: int = 1000,
    timeline_length: int = 1000,
    redis_url: str | None = None,
) -> AsyncIterator[World]:
    """A running AppView over ``database`` (see :class:`World`)."""
    from sonet.appview.schema import migrate_appview

    await migrate_appview(database)
    search = SearchIndex(tmp_path / "search", commit_interval=0.05)
    indexer = Indexer(
        database,
        IndexConfig(fanout_threshold=fanout_threshold, timeline_length=timeline_length),
        search=SearchUpdater(database, search),
    )
    blobs = BlobStore()
    async with serve_app(blobs.app()) as pds_port, aiohttp.ClientSession() as http:
        config = AppviewConfig(
            data_dir=tmp_path / "appview",
            public_url="http://appview.test",
            service_did=APPVIEW_DID,
            plc_url=plc,
            fanout_threshold=fanout_threshold,
            timeline_length=timeline_length,
            redis_url=redis_url,
            timeline_cache_ttl=0.2,
        )
        ctx = await create_appview(config, db=database, search=search)
        client: TestClient[Any, Any] = TestClient(
            TestServer(build_appview_app(ctx, validate_output=True))
        )
        await client.start_server()
        try:
            yield World(
                database,
                indexer,
                search,
                ctx,
                client,
                plc,
                f"http://127.0.0.1:{pds_port}",
                blobs,
                http,
            )
        finally:
            await client.close()


@pytest.fixture(name="world")
async def fixture_world(database: Database, tmp_path: Path, plc_url: str) -> AsyncIterator[World]:
    """An AppView on SQLite and on PostgreSQL (the ``database`` fixture's parameters)."""
    async for w in start_world(database, tmp_path, plc_url):
        yield w
