"""The PLC directory over a real loopback port on both backends, and the client against it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sonet.crypto import Keypair, generate_keypair
from sonet.identity.plc_client import PlcClient, create_did
from sonet.identity.plc_errors import (
    DidNotFoundError,
    DidTombstonedError,
    ImproperOperationError,
    PlcRequestError,
)
from sonet.identity.plc_ops import (
    Operation,
    create_atproto_op,
    op_cid,
    tombstone_op,
    update_operation,
)
from sonet.identity.plc_server import create_app, database_url_from_env
from sonet.identity.plc_validate import PlcLimits
from sonet.storage.database import Database
from sonet.storage.plc_store import PlcStore, migrate_plc
from tests.identity.test_plc_store import Clock


@dataclass
class Server:
    url: str
    clock: Clock
    http: aiohttp.ClientSession
    client: PlcClient

    async def get(self, path: str) -> tuple[int, Any, str]:
        async with self.http.get(self.url + path) as resp:
            body = await resp.read()
            ctype = resp.content_type
            return resp.status, (await resp.json(content_type=None) if body else None), ctype

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        async with self.http.post(self.url + path, json=body) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()


@pytest.fixture
async def server(database: Database) -> AsyncIterator[Server]:
    await migrate_plc(database)
    clock = Clock()
    app = create_app(PlcStore(database, clock=clock), limits=PlcLimits(ops_per_hour=5))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        yield Server(url, clock, http, PlcClient(http, url))
    await runner.cleanup()


@dataclass
class Account:
    did: str
    genesis: Operation
    recovery: Keypair
    rotation: Keypair


def account(handle: str = "alice.test") -> Account:
    recovery, rotation = generate_keypair("p256"), generate_keypair("k256")
    did, op = create_atproto_op(
        signing_key=generate_keypair().did(),
        handle=handle,
        pds_endpoint="https://pds.test",
        rotation_keys=[recovery.did(), rotation.did()],
        signer=rotation,
    )
    return Account(did, op, recovery, rotation)


async def test_health(server: Server) -> None:
    status, body, _ = await server.get("/_health")
    assert status == 200 and "version" in body
    assert "version" in await server.client.health()


async def test_create_and_resolve(server: Server) -> None:
    acct = account()
    assert await server.post(f"/{acct.did}", acct.genesis) == (200, "OK")
    status, doc, ctype = await server.get(f"/{acct.did}")
    assert status == 200 and ctype == "application/did+ld+json"
    assert doc["id"] == acct.did
    assert doc["alsoKnownAs"] == ["at://alice.test"]
    assert doc["verificationMethod"][0]["id"] == f"{acct.did}#atproto"
    assert doc["service"][0]["id"] == "#atproto_pds"
    status, data, _ = await server.get(f"/{acct.did}/data")
    assert status == 200
    assert data["rotationKeys"] == [acct.recovery.did(), acct.rotation.did()]
    status, log, _ = await server.get(f"/{acct.did}/log")
    assert status == 200 and log == [acct.genesis]
    status, last, _ = await server.get(f"/{acct.did}/log/last")
    assert status == 200 and last == acct.genesis
    status, audit, _ = await server.get(f"/{acct.did}/log/audit")
    assert status == 200
    assert audit == [
        {
            "did": acct.did,
            "operation": acct.genesis,
            "cid": op_cid(acct.genesis),
            "nullified": False,
            "createdAt": "2025-06-01T00:00:00.000Z",
        }
    ]


@pytest.mark.parametrize("suffix", ["", "/data", "/log", "/log/audit", "/log/last"])
async def test_unknown_did(server: Server, suffix: str) -> None:
    did = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
    assert await server.get(f"/{did}{suffix}") == (
        404,
        {"message": f"DID not registered: {did}"},
        "application/json",
    )


async def test_tombstoned_did(server: Server) -> None:
    acct = account()
    await server.post(f"/{acct.did}", acct.genesis)
    server.clock.now += timedelta(minutes=1)
    tomb = tombstone_op(op_cid(acct.genesis), acct.rotation)
    assert (await server.post(f"/{acct.did}", tomb))[0] == 200
    for suffix in ("", "/data"):
        status, body, _ = await server.get(f"/{acct.did}{suffix}")
        assert (status, body) == (410, {"message": f"DID not available: {acct.did}"})
    assert (await server.get(f"/{acct.did}/log/last"))[1] == tomb
    assert len((await server.get(f"/{acct.did}/log"))[1]) == 2
    after = update_operation(acct.genesis, acct.rotation, handle="z.test", prev=op_cid(tomb))
    status, body = await server.post(f"/{acct.did}", after)
    assert status == 400 and "tombstone" in body["message"]


async def test_bad_ops_are_400_with_a_message(server: Server) -> None:
    acct = account()
    cases: list[Any] = [
        {**acct.genesis, "sig": "A" * 86},  # forged
        {**acct.genesis, "alsoKnownAs": ["at://mallory.test"]},  # tampered
        {k: v for k, v in acct.genesis.items() if k != "prev"},
        {**acct.genesis, "rotationKeys": [generate_keypair().did() for _ in range(6)]},
        {**acct.genesis, "type": "create"},
        [acct.genesis],
    ]
    for body in cases:
        status, answer = await server.post(f"/{acct.did}", body)
        assert status == 400, body
        assert isinstance(answer["message"], str) and answer["message"]
    status, answer = await server.post(f"/{account().did}", acct.genesis)
    assert status == 400 and "Hash of genesis" in answer["message"]
    async with server.http.post(f"{server.url}/{acct.did}", data=b"{not json") as resp:
        assert resp.status == 400
        assert (await resp.json())["message"] == "Request body is not valid JSON"
    async with server.http.post(f"{server.url}/{acct.did}", data=b"x" * 100_000) as resp:
        assert resp.status == 413
        assert "message" in await resp.json()
    assert (await server.get(f"/{acct.did}"))[0] == 404


async def test_recovery_over_http(server: Server) -> None:
    acct = account()
    await server.post(f"/{acct.did}", acct.genesis)
    server.clock.now += timedelta(hours=1)
    bad = update_operation(acct.genesis, acct.rotation, handle="stolen.test")
    assert (await server.post(f"/{acct.did}", bad))[0] == 200
    server.clock.now += timedelta(hours=72)
    lower = update_operation(acct.genesis, acct.rotation, handle="again.test")
    assert (await server.post(f"/{acct.did}", lower))[0] == 400
    fix = update_operation(acct.genesis, acct.recovery, handle="mine.test")
    assert (await server.post(f"/{acct.did}", fix))[0] == 200
    status, audit, _ = await server.get(f"/{acct.did}/log/audit")
    assert status == 200
    assert [e["nullified"] for e in audit] == [False, True, False]
    assert (await server.get(f"/{acct.did}/data"))[1]["alsoKnownAs"] == ["at://mine.test"]


async def test_late_recovery_over_http(server: Server) -> None:
    acct = account()
    await server.post(f"/{acct.did}", acct.genesis)
    server.clock.now += timedelta(hours=1)
    await server.post(
        f"/{acct.did}", update_operation(acct.genesis, acct.rotation, handle="x.test")
    )
    server.clock.now += timedelta(hours=72, seconds=1)
    fix = update_operation(acct.genesis, acct.recovery, handle="mine.test")
    status, body = await server.post(f"/{acct.did}", fix)
    assert status == 400 and "72-hour" in body["message"]


async def test_rate_limit(server: Server) -> None:
    acct = account()
    await server.post(f"/{acct.did}", acct.genesis)
    last = acct.genesis
    for i in range(4):
        last = update_operation(last, acct.rotation, handle=f"h{i}.test")
        assert (await server.post(f"/{acct.did}", last))[0] == 200
    status, body = await server.post(
        f"/{acct.did}", update_operation(last, acct.rotation, handle="one-too-many.test")
    )
    assert status == 400 and "hour" in body["message"]


async def test_racing_posts_exactly_one_wins(server: Server) -> None:
    acct = account()
    await server.post(f"/{acct.did}", acct.genesis)
    updates = [update_operation(acct.genesis, acct.rotation, handle=f"r{i}.test") for i in range(5)]
    results = await asyncio.gather(*(server.post(f"/{acct.did}", u) for u in updates))
    assert sorted(status for status, _ in results) == [200, 400, 400, 400, 400]
    assert len((await server.get(f"/{acct.did}/log"))[1]) == 2


async def test_export_pagination(server: Server) -> None:
    dids = []
    for i in range(5):
        server.clock.now += timedelta(seconds=1)
        acct = account(f"u{i}.test")
        dids.append(acct.did)
        await server.post(f"/{acct.did}", acct.genesis)
    async with server.http.get(f"{server.url}/export?after=0&count=2") as resp:
        assert resp.content_type == "application/jsonlines"
        text = await resp.text()
    assert len(text.split("\n")) == 2 and not text.endswith("\n")
    seqs: list[int] = []
    seen: list[str] = []
    after = 0
    while page := await server.client.export(after=after, count=2):
        assert all(line["type"] == "sequenced_op" for line in page)
        seqs.extend(line["seq"] for line in page)
        seen.extend(line["did"] for line in page)
        after = page[-1]["seq"]
    assert seen == dids and seqs == sorted(seqs)
    legacy: list[str] = []
    cursor = None
    while page := await server.client.export(after=cursor, count=2):
        assert all(
            set(line) == {"did", "operation", "cid", "nullified", "createdAt"} for line in page
        )
        legacy.extend(line["did"] for line in page)
        cursor = page[-1]["createdAt"]
    assert legacy == dids
    assert len(await server.client.export()) == 5
    assert [line["did"] for line in await server.client.export(after="2025-06-01T00:00:03Z")] == (
        dids[3:]
    )
    for query in ("count=0", "count=-1", "count=abc", "after=yesterday"):
        status, body, _ = await server.get(f"/export?{query}")
        assert status == 400 and body["message"].startswith("Invalid")


async def test_client_lifecycle(server: Server) -> None:
    rotation, signing = generate_keypair("p256"), generate_keypair("k256")
    created = await create_did(
        server.url, signing, [rotation], "carol.test", "pds.example.com", session=server.http
    )
    client = server.client
    doc = await client.get_document(created.did)
    assert doc["alsoKnownAs"] == ["at://carol.test"]
    assert doc["service"][0]["serviceEndpoint"] == "https://pds.example.com"
    assert (await client.get_last_op(created.did)) == created.operation
    server.clock.now += timedelta(minutes=1)
    await client.update_atproto(created.did, rotation, handle="carol2.test")
    data = await client.get_document_data(created.did)
    assert data["alsoKnownAs"] == ["at://carol2.test"]
    assert await client.get_verified_data(created.did) == data
    assert len(await client.get_operation_log(created.did)) == 2
    audit = await client.get_audit_log(created.did)
    assert [e.cid for e in audit] == [
        op_cid(op) for op in await client.get_operation_log(created.did)
    ]
    with pytest.raises(PlcRequestError) as refused:
        await client.update_atproto(created.did, generate_keypair(), handle="evil.test")
    assert refused.value.status == 400
    server.clock.now += timedelta(minutes=1)
    await client.tombstone(created.did, rotation)
    with pytest.raises(DidTombstonedError):
        await client.get_document(created.did)
    assert await client.get_verified_data(created.did) is None
    with pytest.raises(DidNotFoundError):
        await client.get_document_data("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")


async def test_create_did_needs_a_signing_rotation_key(server: Server) -> None:
    with pytest.raises(ImproperOperationError):
        await create_did(
            server.url,
            generate_keypair(),
            [generate_keypair().did()],
            "x.test",
            "https://pds.test",
            session=server.http,
        )


def test_database_url_from_env() -> None:
    assert database_url_from_env({"SONET_DATABASE_URL": "postgresql://x/y"}) == "postgresql://x/y"
    assert database_url_from_env({"SONET_DATA_DIR": "/srv/d"}).endswith("/srv/d/plc.sqlite")
