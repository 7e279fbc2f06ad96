"""Handles under a trusted PDS's user domains (``alice.test``) resolve through that PDS, both ways.

Real PLC directory, real PDSes (accounts made with ``createAccount``, so their DID documents claim
the handles) and a real AppView indexing a PDS's firehose.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sonet.appview.app import build_appview_app, create_appview, ingest_service
from sonet.appview.config import AppviewConfig
from sonet.appview.ingest.handles import verified_handle_or_none
from sonet.identity.cache import MemoryCache
from sonet.identity.did_resolver import DidResolver
from sonet.identity.handle_resolver import HandleResolver
from sonet.identity.trusted_handles import TrustedHandleHosts
from sonet.net import HttpClient, HttpClientConfig
from tests.appview.test_e2e_stack import _free_port
from tests.pds.conftest import PdsFactory, RunningPds, pds_factory  # noqa: F401 - fixture
from tests.relay.conftest import plc_url  # noqa: F401 - fixture

PASSWORD = "trusted-handles-password"


async def create_account(pds: RunningPds, handle: str) -> str:
    resp = await pds.client.post(
        "/xrpc/com.atproto.server.createAccount",
        json={"handle": handle, "email": f"{handle}@example.com", "password": PASSWORD},
    )
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["did"])


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    async with HttpClient(HttpClientConfig(allow_private=True)) as client:
        yield client


async def test_trusted_pds_answers_for_its_domains(
    pds_factory: PdsFactory,  # noqa: F811
    plc_url: str,  # noqa: F811
    http: HttpClient,
) -> None:
    pds = await pds_factory(plc_url=plc_url)
    alice = await create_account(pds, "alice.test")
    trusted = TrustedHandleHosts(http, [pds.url])
    handles = HandleResolver(http, timeout=0.5, trusted=trusted)
    assert await handles.resolve("Alice.Test") == alice
    assert await handles.resolve("nobody.test") is None
    assert await trusted.host_for("alice.example.org") is None  # not its domain: not asked

    dids = DidResolver(http, plc_url=plc_url, cache=MemoryCache())
    try:
        assert await verified_handle_or_none(dids, handles)(alice) == "alice.test"
        untrusted = HandleResolver(http, timeout=0.5)
        assert await verified_handle_or_none(dids, untrusted)(alice) is None
    finally:
        await dids.close()


async def test_handle_claimed_elsewhere_is_not_verified(
    pds_factory: PdsFactory,  # noqa: F811
    plc_url: str,  # noqa: F811
    http: HttpClient,
) -> None:
    """An untrusted PDS creating an account whose document claims a trusted domain's handle does
    not get it: the trusted PDS says the handle is someone else's."""
    trusted_pds = await pds_factory(plc_url=plc_url)
    rogue_pds = await pds_factory(plc_url=plc_url)
    alice = await create_account(trusted_pds, "alice.test")
    impostor = await create_account(rogue_pds, "alice.test")
    unknown = await create_account(rogue_pds, "carol.test")
    handles = HandleResolver(http, timeout=0.5, trusted=TrustedHandleHosts(http, [trusted_pds.url]))
    dids = DidResolver(http, plc_url=plc_url, cache=MemoryCache())
    try:
        resolve = verified_handle_or_none(dids, handles)
        assert await resolve(alice) == "alice.test"
        assert await resolve(impostor) is None
        assert await resolve(unknown) is None
    finally:
        await dids.close()


async def test_unreachable_trusted_pds_is_not_asked(http: HttpClient) -> None:
    trusted = TrustedHandleHosts(http, [f"http://127.0.0.1:{_free_port()}"], timeout=1.0)
    assert await trusted.host_for("alice.test") is None


async def eventually(check: Any, timeout: float = 30.0) -> Any:
    async with asyncio.timeout(timeout):
        while (result := await check()) is None:
            await asyncio.sleep(0.1)
        return result


async def test_appview_shows_handles_of_the_trusted_pds(
    pds_factory: PdsFactory,  # noqa: F811
    plc_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    pds = await pds_factory(plc_url=plc_url)
    port = _free_port()
    config = AppviewConfig(
        port=port,
        public_url=f"http://localhost:{port}",
        service_did=f"did:web:localhost%3A{port}",
        data_dir=tmp_path / "appview",
        firehose_url=pds.ctx.config.public_url,
        start_cursor=0,
        trusted_pds=(pds.ctx.config.public_url,),
        plc_url=plc_url,
    )
    ctx = await create_appview(config, open_search=False)
    async with TestClient(
        TestServer(build_appview_app(ctx), host="127.0.0.1", port=port)
    ) as client:
        ingest = ingest_service(ctx)
        ctx.services["ingest"] = ingest  # stopped with the app
        await ingest.start()
        alice = await create_account(pds, "alice.test")

        async def handle() -> str | None:
            resp = await client.get("/xrpc/app.bsky.actor.getProfile", params={"actor": alice})
            if resp.status != 200:
                return None
            shown = (await resp.json())["handle"]
            return str(shown) if shown != "handle.invalid" else None

        assert await eventually(handle) == "alice.test"
        resp = await client.get("/xrpc/app.bsky.actor.getProfile", params={"actor": "alice.test"})
        assert resp.status == 200 and (await resp.json())["did"] == alice
