"""The official TypeScript client, ``@atproto/api`` (npm), drives the PDS unchanged.

``tests/pds/js/client_flow.mjs`` signs two accounts up, logs in, posts with facets, likes,
reposts, follows, uploads an avatar, reads records back, refreshes its session and exports the
repo; this test runs it with Node against a real PDS and checks what it saw. ``make test``
installs the npm package (``tests/pds/js/node_modules``).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

from tests.pds.conftest import PdsFactory
from tests.pds.test_python_sdk import plc_url  # noqa: F401 - fixture

JS = Path(__file__).parent / "js"


async def test_atproto_api_client_flow(pds_factory: PdsFactory, plc_url: str) -> None:  # noqa: F811
    node = shutil.which("node")
    assert node, "Node.js is required for the @atproto/api client test"
    assert (JS / "node_modules" / "@atproto" / "api").is_dir(), (
        "run `npm install` in tests/pds/js (make test does it)"
    )
    pds = await pds_factory(plc_url=plc_url)
    proc = await asyncio.create_subprocess_exec(
        node,
        str(JS / "client_flow.mjs"),
        pds.url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=JS,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, stderr.decode()
    seen = json.loads(stdout.decode().strip().splitlines()[-1])
    assert seen["loginDid"].startswith("did:plc:")
    assert seen["postText"].startswith("hi @bob")
    assert seen["likeCount"] == 1
    assert seen["repostCount"] == 0
    assert seen["blobMime"] == "image/png"
    assert set(seen["collections"]) == {"app.bsky.feed.post", "app.bsky.actor.profile"}
    assert seen["sessionHandle"].startswith("alice")
    assert seen["refreshed"] is True
    assert seen["notFound"] == "RecordNotFound"
    assert seen["carBytes"] > 100
