"""The AppView application: settings from the environment, its DID document, and the ingest
that ``sonet appview`` runs, fed by a real PDS's firehose on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sonet.appview.app import build_appview_app, create_appview, ingest_service
from sonet.appview.config import AppviewConfig, AppviewConfigError
from sonet.pds.repo_writes import WriteRequest
from sonet.storage.database import Database
from tests.appview.test_api_support import World, fixture_plc_url, fixture_world  # noqa: F401
from tests.pds.conftest import PdsFactory, create_test_account, pds_factory  # noqa: F401


def test_config_from_env() -> None:
    default = AppviewConfig.from_env({})
    assert (default.port, default.service_did) == (2584, "did:web:localhost%3A2584")
    assert default.public_url == "http://localhost:2584" and default.allow_private_network
    config = AppviewConfig.from_env(
        {
            "SONET_APPVIEW_HOSTNAME": "api.example.com",
            "SONET_APPVIEW_FANOUT_THRESHOLD": "250",
            "SONET_APPVIEW_TIMELINE_LENGTH": "600",
            "SONET_APPVIEW_FIREHOSE_URL": "https://relay.example.com",
            "SONET_APPVIEW_FIREHOSE_IS_RELAY": "1",
            "SONET_APPVIEW_BACKFILL_HOSTS": "https://a.example, https://b.example",
            "SONET_APPVIEW_START_CURSOR": "42",
            "SONET_APPVIEW_REDIS_URL": "redis://localhost:6379/1",
        }
    )
    assert config.service_did == "did:web:api.example.com"
    assert config.public_url == "https://api.example.com"
    assert config.audiences == ("did:web:api.example.com", "did:web:api.example.com#bsky_appview")
    assert config.fanout_threshold == 250 and config.firehose_relay
    assert config.timeline_length == 600
    assert config.backfill_hosts == ("https://a.example", "https://b.example")
    assert config.start_cursor == 42 and not config.allow_private_network
    for name, value in (
        ("SONET_APPVIEW_PORT", "eighty"),
        ("SONET_APPVIEW_FANOUT_THRESHOLD", "-1"),
        ("SONET_APPVIEW_START_CURSOR", "latest"),
    ):
        with pytest.raises(AppviewConfigError):
            AppviewConfig.from_env({name: value})


async def test_did_document_and_banner(world: World) -> None:
    resp = await world.client.get("/.well-known/did.json")
    doc = await resp.json()
    assert doc["id"] == "did:web:appview.test"
    assert doc["service"][0] == {
        "id": "#bsky_appview",
        "type": "BskyAppView",
        "serviceEndpoint": "http://appview.test",
    }
    assert (await world.client.get("/")).status == 200
    assert (await world.client.get("/xrpc/app.bsky.feed.getFeedSkeleton")).status == 501


async def test_ingest_from_a_pds_firehose(
    pds_factory: PdsFactory,  # noqa: F811
    database: Database,
    tmp_path: Path,
) -> None:
    pds = await pds_factory(areas=["sonet.pds.api.sync"])
    did, _ = await create_test_account(pds.ctx, "alice.test")
    post = {
        "$type": "app.bsky.feed.post",
        "text": "from the PDS",
        "createdAt": "2025-01-01T00:00:00.000Z",
    }
    await pds.ctx.repos.apply_writes(
        did, [WriteRequest("create", "app.bsky.feed.post", None, post)]
    )
    config = AppviewConfig(
        data_dir=tmp_path / "appview",
        service_did="did:web:appview.test",
        firehose_url=pds.url,
        firehose_relay=True,
        start_cursor=0,
    )
    ctx = await create_appview(config, db=database)
    ingest = ingest_service(ctx)
    ctx.services["ingest"] = ingest
    client: TestClient[Any, Any] = TestClient(
        TestServer(build_appview_app(ctx, validate_output=True))
    )
    await client.start_server()
    try:
        await ingest.start()
        feed: list[object] = []
        for _ in range(200):
            resp = await client.get("/xrpc/app.bsky.feed.getAuthorFeed", params={"actor": did})
            if resp.status == 200 and (feed := (await resp.json())["feed"]):
                break
            await asyncio.sleep(0.05)
        assert [item["post"]["record"]["text"] for item in feed] == ["from the PDS"]  # type: ignore[index]
    finally:
        await client.close()
