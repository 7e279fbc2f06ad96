"""``com.atproto.identity.*`` on a real PDS with a real loopback PLC directory, DNS server and
well-known web host, on both databases."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sonet.crypto import Keypair, generate_keypair
from sonet.identity.handle_resolver import HandleResolver
from sonet.identity.plc_client import PlcClient, create_did
from sonet.identity.plc_server import create_app
from sonet.identity.plc_validate import verify_op_signature
from sonet.net import HttpClient, HttpClientConfig
from sonet.pds.accounts.directory import AccountDirectory
from sonet.pds.accounts.service import account_service
from sonet.pds.mailer import Mailer, MailMessage
from sonet.storage.database import Database, sqlite_url
from sonet.storage.plc_store import PlcStore, migrate_plc
from sonet.xrpc.frames import MessageFrame, decode_frame
from sonet.xrpc.tokens import AuthScope
from tests.net.servers import DnsZone, serve_app, serve_dns
from tests.pds.conftest import PdsFactory, RunningPds

IDENTITY_AREA = "sonet.pds.api.identity"
REMOTE_DID = "did:plc:remote234567abcdefghijkl"


class RecordingMailer(Mailer):
    """Keeps messages instead of sending them."""

    def __init__(self) -> None:
        super().__init__(None, "pds@example.test")
        self.sent: list[MailMessage] = []

    async def send(self, message: MailMessage) -> None:
        self.sent.append(message)


@dataclass
class World:
    """A PDS wired to a loopback PLC directory, DNS server and web host."""

    pds: RunningPds
    plc: PlcClient
    zone: DnsZone
    web_dids: dict[str, str]
    mailer: RecordingMailer

    @property
    def client(self) -> Any:
        return self.pds.client

    async def account(
        self, handle: str, email: str | None = None
    ) -> tuple[str, Keypair, dict[str, str]]:
        """A ``did:plc`` account registered with the directory, and its auth header."""
        ctx = self.pds.ctx
        key = generate_keypair()
        rotation = account_service(ctx).rotation_key
        created = await create_did(
            self.plc.url, key, [rotation], handle, ctx.config.public_url, session=self.http
        )
        async with ctx.sequencer.transaction() as tx:
            row = AccountDirectory.new_row(created.did, handle, key, email=email)
            await ctx.accounts.store.insert(tx.conn, row)
            await ctx.repos.create_repo(tx, created.did, key)
        token = ctx.tokens.create_access(created.did)
        return created.did, key, {"Authorization": f"Bearer {token}"}

    @property
    def http(self) -> aiohttp.ClientSession:
        return self.pds.ctx.http.session()


@pytest.fixture
async def world(pds_factory: PdsFactory, tmp_path: Path) -> AsyncIterator[World]:
    plc_db = Database.open(sqlite_url(tmp_path / "plc.sqlite"))
    await migrate_plc(plc_db)
    zone = DnsZone({("_atproto.dns-bob.example.com", "TXT"): [f'"did={REMOTE_DID}"']})
    web_dids: dict[str, str] = {}

    async def atproto_did(request: web.Request) -> web.Response:
        did = web_dids.get(request.host.split(":")[0])
        return web.Response(text=did) if did else web.Response(status=404)

    web_app = web.Application()
    web_app.router.add_get("/.well-known/atproto-did", atproto_did)
    async with (
        serve_app(create_app(PlcStore(plc_db))) as plc_port,
        serve_dns(zone) as dns_port,
        serve_app(web_app) as web_port,
    ):
        plc_url = f"http://127.0.0.1:{plc_port}"
        pds = await pds_factory(areas=[IDENTITY_AREA], plc_url=plc_url)
        resolver_http = HttpClient(
            HttpClientConfig(allow_private=True, nameservers=("127.0.0.1",), dns_port=dns_port)
        )
        pds.ctx.handle_resolver = HandleResolver(
            resolver_http,
            nameservers=("127.0.0.1",),
            dns_port=dns_port,
            timeout=0.5,
            well_known_scheme="http",
            well_known_port=web_port,
        )
        mailer = RecordingMailer()
        account_service(pds.ctx).mailer = mailer
        plc = PlcClient(pds.ctx.http.session(), plc_url)
        yield World(pds, plc, zone, web_dids, mailer)
        await resolver_http.close()
    await plc_db.close()


def web_host(world: World, host: str, did: str) -> None:
    """Serve ``did`` at ``http://<host>/.well-known/atproto-did`` (DNS A record to loopback)."""
    world.zone.records[(host, "A")] = ["127.0.0.1"]
    world.web_dids[host] = did


async def error_of(resp: aiohttp.ClientResponse) -> tuple[int, str, str]:
    body = await resp.json()
    return resp.status, body["error"], body["message"]


async def identity_events(world: World, after: int) -> list[dict[str, Any]]:
    ctx = world.pds.ctx
    events = []
    async for event in ctx.sequencer.events_after(after):
        frame = decode_frame(event.frame)
        assert isinstance(frame, MessageFrame)
        if frame.type == "#identity":
            events.append(frame.body)
        if event.seq >= ctx.sequencer.latest:
            break
    return events


async def test_resolve_handle_local_and_remote(world: World) -> None:
    did, _key, _auth = await world.account("alice.test")
    web_host(world, "web-carol.example.org", "did:plc:carol234567abcdefghijklm")
    cases = {
        "alice.test": did,
        "ALICE.test": did,
        "dns-bob.example.com": REMOTE_DID,
        "web-carol.example.org": "did:plc:carol234567abcdefghijklm",
    }
    for handle, expected in cases.items():
        resp = await world.client.get(
            "/xrpc/com.atproto.identity.resolveHandle", params={"handle": handle}
        )
        assert resp.status == 200, handle
        assert await resp.json() == {"did": expected}
    for handle, error in (
        ("nobody.test", "HandleNotFound"),
        ("nobody.example.net", "InvalidRequest"),
    ):
        resp = await world.client.get(
            "/xrpc/com.atproto.identity.resolveHandle", params={"handle": handle}
        )
        assert await error_of(resp) == (400, error, "Unable to resolve handle")
    resp = await world.client.get(
        "/xrpc/com.atproto.identity.resolveHandle", params={"handle": "not a handle"}
    )
    assert resp.status == 400
    async with world.pds.ctx.db.write() as conn:  # a deactivated account's handle is not served
        await world.pds.ctx.accounts.store.set_fields(conn, did, status="deactivated")
    resp = await world.client.get(
        "/xrpc/com.atproto.identity.resolveHandle", params={"handle": "alice.test"}
    )
    assert (await error_of(resp))[:2] == (400, "HandleNotFound")


async def test_update_handle_updates_plc_and_sequences_identity(world: World) -> None:
    did, _key, auth = await world.account("alice.test")
    await world.account("taken.test")
    cursor = world.pds.ctx.sequencer.latest
    resp = await world.client.post(
        "/xrpc/com.atproto.identity.updateHandle", json={"handle": "Alice2.test"}, headers=auth
    )
    assert resp.status == 200, await resp.text()
    data = await world.plc.get_document_data(did)
    assert data["alsoKnownAs"] == ["at://alice2.test"]
    row = await world.pds.ctx.accounts.get(did)
    assert row is not None and row.handle == "alice2.test"
    [event] = await identity_events(world, cursor)
    assert (event["did"], event["handle"]) == (did, "alice2.test")

    web_host(world, "alice.example.com", did)
    resp = await world.client.post(
        "/xrpc/com.atproto.identity.updateHandle",
        json={"handle": "alice.example.com"},
        headers=auth,
    )
    assert resp.status == 200, await resp.text()
    assert (await world.plc.get_document_data(did))["alsoKnownAs"] == ["at://alice.example.com"]

    refusals = {
        "taken.test": (400, "HandleNotAvailable", "Handle already taken: taken.test"),
        "ab.test": (400, "InvalidHandle", "Handle too short"),
        "elsewhere.example.net": (400, "InvalidRequest", "External handle did not resolve to DID"),
        "dns-bob.example.com": (400, "InvalidRequest", "External handle did not resolve to DID"),
    }
    for handle, expected in refusals.items():
        resp = await world.client.post(
            "/xrpc/com.atproto.identity.updateHandle", json={"handle": handle}, headers=auth
        )
        assert await error_of(resp) == expected, handle
    row = await world.pds.ctx.accounts.get(did)
    assert row is not None and row.handle == "alice.example.com"
    resp = await world.client.post(
        "/xrpc/com.atproto.identity.updateHandle", json={"handle": "x.test"}
    )
    assert resp.status == 401


async def test_recommended_credentials(world: World) -> None:
    _did, key, auth = await world.account("alice.test")
    resp = await world.client.get(
        "/xrpc/com.atproto.identity.getRecommendedDidCredentials", headers=auth
    )
    assert resp.status == 200
    rotation = account_service(world.pds.ctx).rotation_key
    assert await resp.json() == {
        "alsoKnownAs": ["at://alice.test"],
        "verificationMethods": {"atproto": key.did()},
        "rotationKeys": [rotation.did()],
        "services": {
            "atproto_pds": {
                "type": "AtprotoPersonalDataServer",
                "endpoint": world.pds.ctx.config.public_url,
            }
        },
    }


async def test_plc_operation_signature_flow(world: World) -> None:
    did, key, auth = await world.account("alice.test", email="alice@example.com")
    ctx = world.pds.ctx
    rotation = account_service(ctx).rotation_key
    request = "/xrpc/com.atproto.identity.requestPlcOperationSignature"
    resp = await world.client.post(request, headers=auth)
    assert resp.status == 200, await resp.text()
    [mail] = world.mailer.sent
    assert mail.to == "alice@example.com"
    match = re.search(r"[A-Z2-7]{5}-[A-Z2-7]{5}", mail.text)
    assert match is not None
    token = match.group(0)

    sign = "/xrpc/com.atproto.identity.signPlcOperation"
    resp = await world.client.post(sign, json={}, headers=auth)
    assert (await error_of(resp))[2] == "email confirmation token required to sign PLC operations"
    resp = await world.client.post(sign, json={"token": "AAAAA-BBBBB"}, headers=auth)
    assert (await error_of(resp))[:2] == (400, "InvalidToken")
    own_key = generate_keypair()
    rotation_keys = [own_key.did(), rotation.did()]
    resp = await world.client.post(
        sign, json={"token": token.lower(), "rotationKeys": rotation_keys}, headers=auth
    )
    assert resp.status == 200, await resp.text()
    op = (await resp.json())["operation"]
    assert op["rotationKeys"] == rotation_keys
    assert op["alsoKnownAs"] == ["at://alice.test"]
    assert op["verificationMethods"] == {"atproto": key.did()}
    assert op["prev"] is not None
    assert verify_op_signature([rotation.did()], op) == rotation.did()
    resp = await world.client.post(sign, json={"token": token}, headers=auth)
    assert (await error_of(resp))[:2] == (400, "InvalidToken")

    cursor = ctx.sequencer.latest
    submit = "/xrpc/com.atproto.identity.submitPlcOperation"
    resp = await world.client.post(submit, json={"operation": op}, headers=auth)
    assert resp.status == 200, await resp.text()
    assert (await world.plc.get_document_data(did))["rotationKeys"] == rotation_keys
    [event] = await identity_events(world, cursor)
    assert event["did"] == did and "handle" not in event
    resp = await world.client.post(submit, json={"operation": op}, headers=auth)
    assert (await error_of(resp))[:2] == (400, "InvalidRequest")  # prev is now stale

    app_token = ctx.tokens.create_access(did, AuthScope.APP_PASS)
    resp = await world.client.post(request, headers={"Authorization": f"Bearer {app_token}"})
    assert await error_of(resp) == (400, "InvalidToken", "Bad token scope")


async def test_submit_refuses_ops_that_leave_this_pds(world: World) -> None:
    did, key, auth = await world.account("alice.test")
    ctx = world.pds.ctx
    rotation = account_service(ctx).rotation_key
    good: dict[str, Any] = {
        "type": "plc_operation",
        "rotationKeys": [rotation.did()],
        "verificationMethods": {"atproto": key.did()},
        "alsoKnownAs": ["at://alice.test"],
        "services": {
            "atproto_pds": {
                "type": "AtprotoPersonalDataServer",
                "endpoint": ctx.config.public_url,
            }
        },
        "prev": None,
        "sig": "x" * 86,
    }
    pds = good["services"]["atproto_pds"]
    bad = {
        "Invalid operation": {**good, "type": "plc_tombstone"},
        "Rotation keys do not include server's rotation key": {
            **good,
            "rotationKeys": [generate_keypair().did()],
        },
        "Incorrect type on atproto_pds service": {
            **good,
            "services": {"atproto_pds": {**pds, "type": "Other"}},
        },
        "Incorrect endpoint on atproto_pds service": {
            **good,
            "services": {"atproto_pds": {**pds, "endpoint": "https://elsewhere.example"}},
        },
        "Incorrect signing key": {
            **good,
            "verificationMethods": {"atproto": generate_keypair().did()},
        },
        "Incorrect handle in alsoKnownAs": {**good, "alsoKnownAs": ["at://mallory.test"]},
    }
    for message, op in bad.items():
        resp = await world.client.post(
            "/xrpc/com.atproto.identity.submitPlcOperation", json={"operation": op}, headers=auth
        )
        assert await error_of(resp) == (400, "InvalidRequest", message)
    resp = await world.client.post(
        "/xrpc/com.atproto.identity.submitPlcOperation", json={"operation": good}, headers=auth
    )
    assert (await error_of(resp))[:2] == (400, "InvalidRequest")  # the directory refuses it
    assert (await world.plc.get_document_data(did))["alsoKnownAs"] == ["at://alice.test"]


async def test_resolve_did_and_identity(world: World) -> None:
    did, _key, auth = await world.account("alice.test")
    liar, _key2, _auth2 = await world.account("liar.test")
    async with world.pds.ctx.sequencer.transaction() as tx:  # the account says another handle
        await world.pds.ctx.accounts.store.set_fields(tx.conn, liar, handle="liar2.test")
    resp = await world.client.get("/xrpc/com.atproto.identity.resolveDid", params={"did": did})
    assert resp.status == 200
    doc = (await resp.json())["didDoc"]
    assert doc["id"] == did and doc["alsoKnownAs"] == ["at://alice.test"]
    resp = await world.client.get(
        "/xrpc/com.atproto.identity.resolveDid",
        params={"did": "did:plc:unknown234567abcdefghijk"},
    )
    assert (await error_of(resp))[:2] == (400, "DidNotFound")

    for identifier in (did, "alice.test"):
        resp = await world.client.get(
            "/xrpc/com.atproto.identity.resolveIdentity", params={"identifier": identifier}
        )
        assert resp.status == 200
        info = await resp.json()
        assert (info["did"], info["handle"], info["didDoc"]["id"]) == (did, "alice.test", did)
    resp = await world.client.get(
        "/xrpc/com.atproto.identity.resolveIdentity", params={"identifier": liar}
    )
    assert (await resp.json())["handle"] == "handle.invalid"
    resp = await world.client.get(
        "/xrpc/com.atproto.identity.resolveIdentity", params={"identifier": "nobody.test"}
    )
    assert (await error_of(resp))[:2] == (400, "HandleNotFound")

    refresh = "/xrpc/com.atproto.identity.refreshIdentity"
    resp = await world.client.post(refresh, json={"identifier": did})
    assert resp.status == 401
    resp = await world.client.post(refresh, json={"identifier": did}, headers=auth)
    assert resp.status == 200
    assert (await resp.json())["handle"] == "alice.test"
