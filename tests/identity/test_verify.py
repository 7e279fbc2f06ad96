"""Bidirectional handle verification over real loopback DNS and PLC servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from sonet.identity.did_resolver import DidResolver
from sonet.identity.errors import DidNotFoundError
from sonet.identity.handle_resolver import HandleResolver
from sonet.identity.verify import resolve_handle_verified, verified_handle
from sonet.net import HttpClient, HttpClientConfig
from sonet.syntax.handle import INVALID_HANDLE
from tests.identity.fixtures import plc_style_doc, random_plc_did, running_identity_server
from tests.net.servers import DnsZone, serve_dns

ALICE = random_plc_did()  # alice.test, both ways
MALLORY = random_plc_did()  # claims alice.test, which points elsewhere
NOBODY = random_plc_did()  # no handle in the document
BOB = random_plc_did()  # bob.test points at ALICE's DID


@dataclass
class World:
    dids: DidResolver
    handles: HandleResolver


@pytest.fixture
async def world() -> AsyncIterator[World]:
    zone = DnsZone(
        {
            ("_atproto.alice.test", "TXT"): [f'"did={ALICE}"'],
            ("_atproto.bob.test", "TXT"): [f'"did={ALICE}"'],
        }
    )
    async with running_identity_server() as (srv, port), serve_dns(zone) as dns_port:
        srv.add_plc_doc(plc_style_doc(ALICE, handle="Alice.Test"))
        srv.add_plc_doc(plc_style_doc(MALLORY, handle="alice.test"))
        srv.add_plc_doc(plc_style_doc(NOBODY, handle=None))
        async with HttpClient(HttpClientConfig(allow_private=True)) as http:
            yield World(
                DidResolver(http, plc_url=f"http://127.0.0.1:{port}"),
                HandleResolver(http, nameservers=("127.0.0.1",), dns_port=dns_port, timeout=0.5),
            )


async def test_verified_handle(world: World) -> None:
    assert await verified_handle(world.dids, world.handles, ALICE) == "alice.test"


@pytest.mark.parametrize("did", [MALLORY, NOBODY])
async def test_unverified_handle_is_invalid(world: World, did: str) -> None:
    assert await verified_handle(world.dids, world.handles, did) == INVALID_HANDLE


async def test_unknown_did_propagates(world: World) -> None:
    with pytest.raises(DidNotFoundError):
        await verified_handle(world.dids, world.handles, random_plc_did())


async def test_resolve_handle_verified(world: World) -> None:
    identity = await resolve_handle_verified(world.dids, world.handles, "ALICE.test")
    assert identity is not None and identity.did == ALICE
    # bob.test points at alice's DID, but alice's document does not claim bob.test
    assert await resolve_handle_verified(world.dids, world.handles, "bob.test") is None
    assert await resolve_handle_verified(world.dids, world.handles, "carol.test") is None
