"""HandleResolver against a real loopback DNS server and well-known HTTP host."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sonet.identity.cache import MemoryCache
from sonet.identity.errors import InvalidHandleError
from sonet.identity.handle_resolver import (
    HandleResolver,
    did_from_txt_records,
    did_from_well_known,
)
from sonet.net import HttpClient, HttpClientConfig
from tests.identity.fixtures import IdentityServer, Reply, random_plc_did, running_identity_server
from tests.net.servers import DnsZone, serve_dns

DNS_DID = random_plc_did()
HTTP_DID = random_plc_did()
WEB_HOSTS = ["web.test", "both.test", "garbage.test", "moved.test", "slow.test", "big.test"]


@pytest.fixture
def zone() -> DnsZone:
    records: dict[tuple[str, str], list[str]] = {
        ("_atproto.dns.test", "TXT"): [f'"did={DNS_DID}"', '"v=spf1 -all"'],
        ("_atproto.split.test", "TXT"): [f'"did=did:plc:" "{DNS_DID[8:]}"'],
        ("_atproto.two.test", "TXT"): [f'"did={DNS_DID}"', f'"did={HTTP_DID}"'],
        ("_atproto.junk.test", "TXT"): ['"did=not-a-did"'],
        ("_atproto.both.test", "TXT"): [f'"did={DNS_DID}"'],
    }
    for host in WEB_HOSTS:
        records[(host, "A")] = ["127.0.0.1"]
    zone = DnsZone(records)
    zone.silent.add("_atproto.slow.test")
    return zone


@pytest.fixture
async def dns_port(zone: DnsZone) -> AsyncIterator[int]:
    async with serve_dns(zone) as port:
        yield port


@pytest.fixture
async def web() -> AsyncIterator[tuple[IdentityServer, int]]:
    async with running_identity_server() as (srv, port):
        path = "/.well-known/atproto-did"
        srv.add(path, Reply.text(HTTP_DID + "\n"), host="web.test")
        srv.add(path, Reply.text(HTTP_DID), host="both.test")
        srv.add(path, Reply.text("<html>hello</html>"), host="garbage.test")
        srv.add(path, Reply(status=301, location=f"http://web.test:{port}{path}"), "moved.test")
        srv.add(path, Reply.text(HTTP_DID), host="slow.test")
        srv.add(path, Reply.text(HTTP_DID + "\n" + "x" * 10_000), host="big.test")
        yield srv, port


@pytest.fixture
async def handles(dns_port: int, web: tuple[IdentityServer, int]) -> AsyncIterator[HandleResolver]:
    config = HttpClientConfig(allow_private=True, nameservers=("127.0.0.1",), dns_port=dns_port)
    async with HttpClient(config) as http:
        yield HandleResolver(
            http,
            nameservers=("127.0.0.1",),
            dns_port=dns_port,
            timeout=0.5,
            well_known_scheme="http",
            well_known_port=web[1],
        )


async def test_dns_txt(handles: HandleResolver) -> None:
    assert await handles.resolve("dns.test") == DNS_DID
    assert await handles.resolve("DNS.Test") == DNS_DID
    assert await handles.resolve_dns("split.test") == DNS_DID  # chunked TXT strings


async def test_dns_preferred_over_http(handles: HandleResolver) -> None:
    assert await handles.resolve_http("both.test") == HTTP_DID
    assert await handles.resolve("both.test") == DNS_DID


async def test_well_known(handles: HandleResolver) -> None:
    assert await handles.resolve("web.test") == HTTP_DID


async def test_well_known_redirect_followed(handles: HandleResolver) -> None:
    assert await handles.resolve("moved.test") == HTTP_DID


@pytest.mark.parametrize("handle", ["two.test", "junk.test", "garbage.test", "nobody.test"])
async def test_no_answer(handles: HandleResolver, handle: str) -> None:
    assert await handles.resolve(handle) is None


async def test_oversize_well_known_is_no_answer(handles: HandleResolver) -> None:
    assert await handles.resolve("big.test") is None


async def test_dns_timeout_falls_back_to_http(handles: HandleResolver, zone: DnsZone) -> None:
    assert await handles.resolve("slow.test") == HTTP_DID
    assert ("_atproto.slow.test", "TXT") in zone.queries


async def test_loopback_well_known_refused_by_default(
    dns_port: int, web: tuple[IdentityServer, int]
) -> None:
    srv, port = web
    config = HttpClientConfig(nameservers=("127.0.0.1",), dns_port=dns_port)
    async with HttpClient(config) as http:
        strict = HandleResolver(
            http, nameservers=("127.0.0.1",), dns_port=dns_port, well_known_port=port
        )
        assert await strict.resolve("web.test") is None
        assert await strict.resolve("dns.test") == DNS_DID  # DNS needs no connection
    assert srv.hits["/.well-known/atproto-did"] == 0


@pytest.mark.parametrize("handle", ["alice.local", "bob.onion", "x.invalid", "y.localhost"])
async def test_reserved_tlds_not_looked_up(
    handles: HandleResolver, zone: DnsZone, handle: str
) -> None:
    assert await handles.resolve(handle) is None
    assert zone.queries == []


@pytest.mark.parametrize("handle", ["", "nodot", "-bad.test", "a..test", "did:plc:abc", 5])
async def test_invalid_handles(handles: HandleResolver, handle: object) -> None:
    with pytest.raises(InvalidHandleError):
        await handles.resolve(handle)  # type: ignore[arg-type]


async def test_cache(dns_port: int, web: tuple[IdentityServer, int], zone: DnsZone) -> None:
    config = HttpClientConfig(allow_private=True, nameservers=("127.0.0.1",), dns_port=dns_port)
    async with HttpClient(config) as http:
        handles = HandleResolver(
            http,
            nameservers=("127.0.0.1",),
            dns_port=dns_port,
            cache=MemoryCache(),
            well_known_scheme="http",
            well_known_port=web[1],
        )
        assert await handles.resolve("dns.test") == DNS_DID
        zone.records[("_atproto.dns.test", "TXT")] = [f'"did={HTTP_DID}"']
        assert await handles.resolve("dns.test") == DNS_DID
        assert await handles.refresh("dns.test") == HTTP_DID
        assert await handles.resolve("dns.test") == HTTP_DID
        await handles.close()


def test_txt_record_rules() -> None:
    assert did_from_txt_records([f"did={DNS_DID}", "other"]) == DNS_DID
    assert did_from_txt_records([f"did={DNS_DID}", f"did={DNS_DID}"]) is None
    assert did_from_txt_records(["DID=" + DNS_DID]) is None
    assert did_from_txt_records([]) is None


def test_well_known_body_rules() -> None:
    assert did_from_well_known(f"  {DNS_DID}  \r\nignored".encode()) == DNS_DID
    assert did_from_well_known(b"\xff\xfe") is None
    assert did_from_well_known(b"") is None
