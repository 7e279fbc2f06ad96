"""DidResolver against a real loopback PLC directory and did:web host."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sonet.crypto import K256Keypair
from sonet.identity.cache import CachePolicy, MemoryCache
from sonet.identity.did_doc import DidDocument
from sonet.identity.did_resolver import DidResolver
from sonet.identity.errors import (
    DidDocumentError,
    DidNotFoundError,
    DidResolutionError,
    InvalidDidError,
    UnsupportedDidError,
)
from sonet.net import FetchError, HttpClient, HttpClientConfig, ResponseTooLargeError, SsrfError
from tests.identity.fixtures import (
    IdentityServer,
    Reply,
    plc_style_doc,
    random_plc_did,
    running_identity_server,
)


@pytest.fixture
async def server() -> AsyncIterator[tuple[IdentityServer, int]]:
    async with running_identity_server() as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    async with HttpClient(HttpClientConfig(allow_private=True)) as client:
        yield client


def resolver(http: HttpClient, port: int, **kwargs: object) -> DidResolver:
    return DidResolver(http, plc_url=f"http://127.0.0.1:{port}/", **kwargs)  # type: ignore[arg-type]


async def test_plc_happy_path(server: tuple[IdentityServer, int], http: HttpClient) -> None:
    srv, port = server
    did, keypair = random_plc_did(), K256Keypair.generate()
    srv.add_plc_doc(plc_style_doc(did, keypair=keypair))
    dids = resolver(http, port)
    assert (await dids.resolve(did))["id"] == did
    identity = await dids.resolve_atproto(did)
    assert identity.handle == "alice.test"
    assert identity.signing_key == keypair.public_key()
    assert await dids.resolve_signing_key(did) == keypair.public_key()
    assert identity.pds_endpoint == "https://pds.example.com"


async def test_did_key_is_its_own_signing_key(http: HttpClient) -> None:
    keypair = K256Keypair.generate()
    assert await DidResolver(http).resolve_signing_key(keypair.did()) == keypair.public_key()


async def test_signing_key_missing(server: tuple[IdentityServer, int], http: HttpClient) -> None:
    srv, port = server
    did = random_plc_did()
    srv.add_plc_doc({"id": did})
    with pytest.raises(DidDocumentError, match="signing key"):
        await resolver(http, port).resolve_signing_key(did)


@pytest.mark.parametrize("status", [404, 410])
async def test_not_found(server: tuple[IdentityServer, int], http: HttpClient, status: int) -> None:
    srv, port = server
    did = random_plc_did()
    srv.add("/" + did, Reply(status=status, body=b'{"message":"DID not available"}'))
    with pytest.raises(DidNotFoundError) as info:
        await resolver(http, port).resolve(did)
    assert info.value.did == did


async def test_server_error_is_not_not_found(
    server: tuple[IdentityServer, int], http: HttpClient
) -> None:
    srv, port = server
    did = random_plc_did()
    srv.add("/" + did, Reply(status=500))
    with pytest.raises(DidResolutionError, match="HTTP 500"):
        await resolver(http, port).resolve(did)


async def test_redirects_are_not_followed(
    server: tuple[IdentityServer, int], http: HttpClient
) -> None:
    srv, port = server
    did, other = random_plc_did(), random_plc_did()
    srv.add_plc_doc(plc_style_doc(other))
    srv.add("/" + did, Reply(status=302, location="/" + other))
    with pytest.raises(DidResolutionError, match="HTTP 302"):
        await resolver(http, port).resolve(did)


@pytest.mark.parametrize("body", [b"<html>nope</html>", b'{"id": 1', b"[]", b'"did"'])
async def test_malformed_documents(
    server: tuple[IdentityServer, int], http: HttpClient, body: bytes
) -> None:
    srv, port = server
    did = random_plc_did()
    srv.add("/" + did, Reply(body=body))
    with pytest.raises(DidDocumentError):
        await resolver(http, port).resolve(did)


async def test_mismatched_id(server: tuple[IdentityServer, int], http: HttpClient) -> None:
    srv, port = server
    did = random_plc_did()
    srv.add("/" + did, Reply.json(plc_style_doc(random_plc_did())))
    with pytest.raises(DidDocumentError, match="not the requested DID"):
        await resolver(http, port).resolve(did)


async def test_oversize_document(server: tuple[IdentityServer, int], http: HttpClient) -> None:
    srv, port = server
    did = random_plc_did()
    big = plc_style_doc(did)
    big["alsoKnownAs"] = [f"at://h{i}.test" for i in range(10_000)]
    srv.add("/" + did, Reply.json(big))
    with pytest.raises(DidResolutionError) as info:
        await resolver(http, port).resolve(did)
    assert isinstance(info.value.__cause__, ResponseTooLargeError)
    # the same document is fine under a higher limit
    assert (await resolver(http, port, max_doc_bytes=1 << 20).resolve(did))["id"] == did


async def test_timeout(server: tuple[IdentityServer, int], http: HttpClient) -> None:
    srv, port = server
    did = random_plc_did()
    srv.add("/" + did, Reply(body=Reply.json(plc_style_doc(did)).body, delay=2.0))
    with pytest.raises(DidResolutionError) as info:
        await resolver(http, port, timeout=0.2).resolve(did)
    assert isinstance(info.value.__cause__, FetchError)


async def test_loopback_plc_refused_without_allow_private(
    server: tuple[IdentityServer, int],
) -> None:
    srv, port = server
    did = random_plc_did()
    srv.add_plc_doc(plc_style_doc(did))
    async with HttpClient() as strict:
        with pytest.raises(DidResolutionError) as info:
            await resolver(strict, port).resolve(did)
    assert isinstance(info.value.__cause__, SsrfError)
    assert srv.hits["/" + did] == 0


async def test_did_web_with_port(server: tuple[IdentityServer, int], http: HttpClient) -> None:
    srv, port = server
    did = f"did:web:localhost%3A{port}"
    srv.add("/.well-known/did.json", Reply.json(plc_style_doc(did, handle="web.test")))
    identity = await DidResolver(http).resolve_atproto(did)
    assert identity.did == did and identity.handle == "web.test"


async def test_did_web_refusals(http: HttpClient) -> None:
    dids = DidResolver(http)
    assert str(dids.document_url("did:web:example.com")) == (
        "https://example.com/.well-known/did.json"
    )
    with pytest.raises(UnsupportedDidError, match="path"):
        await dids.resolve("did:web:example.com:u:alice")
    with pytest.raises(UnsupportedDidError, match="port"):
        await DidResolver(HttpClient()).resolve("did:web:example.com%3A8443")
    with pytest.raises(InvalidDidError):
        await dids.resolve("did:web:exa_mple.com")
    with pytest.raises(InvalidDidError):
        await dids.resolve("did:web:example.com%3A99999")


@pytest.mark.parametrize(
    ("did", "error"),
    [
        ("alice.test", InvalidDidError),
        ("did:plc:short", InvalidDidError),
        ("did:plc:UPPERCASEUPPERCASEUPPERC", InvalidDidError),
        ("did:example:123", UnsupportedDidError),
        ("did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme", UnsupportedDidError),
    ],
)
async def test_bad_dids(http: HttpClient, did: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        await DidResolver(http).resolve(did)


async def test_cache_serves_and_refresh_bypasses(
    server: tuple[IdentityServer, int], http: HttpClient
) -> None:
    srv, port = server
    did = random_plc_did()
    srv.add_plc_doc(plc_style_doc(did, handle="first.test"))
    cache: MemoryCache[DidDocument] = MemoryCache()
    dids = resolver(http, port, cache=cache)
    assert (await dids.resolve_atproto(did)).handle == "first.test"
    srv.add_plc_doc(plc_style_doc(did, handle="second.test"))
    assert (await dids.resolve_atproto(did)).handle == "first.test"
    assert srv.hits["/" + did] == 1
    assert (await dids.resolve_atproto(did, force_refresh=True)).handle == "second.test"
    assert (await dids.resolve_atproto(did)).handle == "second.test"
    assert srv.hits["/" + did] == 2
    srv.add("/" + did, Reply(status=404))
    with pytest.raises(DidNotFoundError):
        await dids.refresh(did)
    assert await cache.get(did) is None


async def test_stale_entry_served_while_refreshed(
    server: tuple[IdentityServer, int], http: HttpClient
) -> None:
    srv, port = server
    did = random_plc_did()
    now = [0.0]
    cache: MemoryCache[DidDocument] = MemoryCache(
        CachePolicy(fresh_seconds=60, max_age_seconds=3600), clock=lambda: now[0]
    )
    dids = resolver(http, port, cache=cache)
    srv.add_plc_doc(plc_style_doc(did, handle="old.test"))
    await dids.resolve(did)
    srv.add_plc_doc(plc_style_doc(did, handle="new.test"))
    now[0] = 120.0  # stale, not expired
    assert (await dids.resolve_atproto(did)).handle == "old.test"
    for _ in range(200):  # the background refresh lands shortly
        hit = await cache.get(did)
        if hit is not None and hit.value["alsoKnownAs"] == ["at://new.test"]:
            break
        await asyncio.sleep(0.01)
    assert srv.hits["/" + did] == 2
    assert (await dids.resolve_atproto(did)).handle == "new.test"
    assert srv.hits["/" + did] == 2  # fresh again: no fetch
    now[0] = 120.0 + 4000  # expired: fetched again
    hits = srv.hits["/" + did]
    await dids.resolve(did)
    assert srv.hits["/" + did] == hits + 1


async def test_concurrent_misses_share_one_fetch(
    server: tuple[IdentityServer, int], http: HttpClient
) -> None:
    srv, port = server
    did = random_plc_did()
    srv.add("/" + did, Reply(body=Reply.json(plc_style_doc(did)).body, delay=0.1))
    dids = resolver(http, port, cache=MemoryCache())
    docs = await asyncio.gather(*(dids.resolve(did) for _ in range(20)))
    assert all(d["id"] == did for d in docs)
    assert srv.hits["/" + did] == 1
