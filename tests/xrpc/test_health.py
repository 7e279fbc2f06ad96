from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from sonet import __version__
from sonet.config import Config
from sonet.server import build_app


async def test_health_answers(tmp_path) -> None:
    app = build_app(Config(data_dir=tmp_path))
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/xrpc/_health")
        assert resp.status == 200
        assert await resp.json() == {"version": __version__}
