"""The PDS's well-known routes served on loopback, read by Sonet's own handle and DID resolvers."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import ClientSession, web

from sonet.crypto import generate_keypair
from sonet.identity.did_resolver import DidResolver
from sonet.identity.handle_resolver import HandleResolver
from sonet.net import HttpClient, HttpClientConfig
from sonet.pds.well_known import BANNER, add_well_known_routes, handle_from_host
from tests.net.servers import DnsZone, serve_app, serve_dns
from tests.pds.conftest import PdsFactory, RunningPds, create_test_account


def well_known_app(pds: RunningPds) -> web.Application:
    app = web.Application()
    add_well_known_routes(app, pds.ctx)
    return app


async def test_atproto_did_for_hosted_handles(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[])
    did, _key = await create_test_account(pds.ctx, "alice.test")
    async with serve_app(well_known_app(pds)) as port, ClientSession() as http:
        url = f"http://127.0.0.1:{port}/.well-known/atproto-did"
        for host in ("alice.test", "ALICE.test:2583", "alice.test."):
            async with http.get(url, headers={"Host": host}) as resp:
                assert resp.status == 200, host
                assert resp.content_type == "text/plain"
                assert await resp.text() == did
        for host in ("nobody.test", "alice.example.com", "127.0.0.1", "[::1]:80", "test"):
            async with http.get(url, headers={"Host": host}) as resp:
                assert resp.status == 404, host
        async with pds.ctx.db.write() as conn:  # a taken-down account's handle is not served
            await pds.ctx.accounts.store.set_fields(conn, did, status="takendown")
        async with http.get(url, headers={"Host": "alice.test"}) as resp:
            assert resp.status == 404
        async with pds.ctx.db.write() as conn:
            await pds.ctx.accounts.store.set_fields(conn, did, status="active")
        async with http.get(f"http://127.0.0.1:{port}/") as resp:
            assert resp.status == 200 and await resp.text() == BANNER
        async with http.get(f"http://127.0.0.1:{port}/robots.txt") as resp:
            assert "User-agent: *" in await resp.text()
    # Sonet's handle resolver finds the account through the HTTPS-well-known method (over
    # http on loopback, with alice.test pointing at 127.0.0.1 in a loopback DNS server).
    zone = DnsZone({("alice.test", "A"): ["127.0.0.1"]})
    async with serve_app(well_known_app(pds)) as port, serve_dns(zone) as dns_port:
        config = HttpClientConfig(allow_private=True, nameservers=("127.0.0.1",), dns_port=dns_port)
        async with HttpClient(config) as client:
            resolver = HandleResolver(client, well_known_scheme="http", well_known_port=port)
            assert await resolver.resolve_http("alice.test") == did


async def test_did_web_document_resolves(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[])
    key = generate_keypair()
    app = web.Application()
    add_well_known_routes(app, pds.ctx, signing_key=key.public_key())
    async with serve_app(app) as port, HttpClient(HttpClientConfig(allow_private=True)) as http:
        did = f"did:web:localhost%3A{port}"
        public_url = f"http://localhost:{port}"
        pds.ctx.config = replace(pds.ctx.config, service_did=did, public_url=public_url)
        identity = await DidResolver(http).resolve_atproto(did)
        assert identity.pds_endpoint == public_url
        assert identity.signing_key == key.public_key()
        pds.ctx.config = replace(pds.ctx.config, service_did="did:plc:abcdefghijklmnopqrstuvwx")
        resp = await http.get(f"http://127.0.0.1:{port}/.well-known/did.json", max_bytes=4096)
        assert resp.status == 404


def test_handle_from_host() -> None:
    assert handle_from_host("Alice.Test:443") == "alice.test"
    assert handle_from_host("alice.test.") == "alice.test"
    assert handle_from_host("[::1]:80") == "[::1]:80"
