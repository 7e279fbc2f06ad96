"""com.atproto.repo.getRecord for a repo not hosted here goes to the AppView (the reference PDS's
pipethrough), against a real AppView stand-in on loopback, on both databases."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.net.servers import serve_app
from tests.pds.conftest import PdsFactory, RunningPds, create_test_account
from tests.pds.test_sync_support import post, set_status

GET_RECORD = "/xrpc/com.atproto.repo.getRecord"
POST = "app.bsky.feed.post"
REMOTE = "did:plc:remote234567abcdefghijkl"
AREAS = ["sonet.pds.api.repo"]


@dataclass
class AppView:
    """Answers getRecord like an AppView: a known record, else the reference's RecordNotFound."""

    port: int = 0
    calls: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def get_record(self, request: web.Request) -> web.Response:
        self.calls.append((request.path, dict(request.query), dict(request.headers)))
        q = request.query
        uri = f"at://{q['repo']}/{q['collection']}/{q['rkey']}"
        if q["rkey"] != "3kt0000000001":
            error = {"error": "RecordNotFound", "message": f"Could not locate record: {uri}"}
            return web.json_response(error, status=400)
        cid = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
        body = {"uri": uri, "cid": cid, "value": post("from the appview")}
        return web.json_response(body, headers={"atproto-content-labelers": "did:plc:labeler"})


@asynccontextmanager
async def running_appview() -> AsyncIterator[AppView]:
    appview = AppView()
    app = web.Application()
    app.router.add_get(GET_RECORD, appview.get_record)
    async with serve_app(app) as port:
        appview.port = port
        yield appview


async def get_record(pds: RunningPds, repo: str, rkey: str, **headers: str) -> tuple[int, Any]:
    params = {"repo": repo, "collection": POST, "rkey": rkey}
    resp = await pds.client.get(GET_RECORD, params=params, headers=headers)
    return resp.status, await resp.json()


async def test_remote_records_come_from_the_appview(pds_factory: PdsFactory) -> None:
    async with running_appview() as appview:
        pds = await pds_factory(
            areas=AREAS, appview_url=appview.url, appview_did="did:web:appview.test"
        )
        status, body = await get_record(
            pds, REMOTE, "3kt0000000001", **{"Accept-Language": "de", "Cookie": "x=1"}
        )
        assert status == 200
        assert body["uri"] == f"at://{REMOTE}/{POST}/3kt0000000001"
        assert body["value"]["text"] == "from the appview"
        [(path, query, headers)] = appview.calls
        assert path == GET_RECORD
        assert query == {"repo": REMOTE, "collection": POST, "rkey": "3kt0000000001"}
        # the reference pipes it through without service auth; selected headers go along
        assert "Authorization" not in headers and "Cookie" not in headers
        assert headers["Accept-Language"] == "de"

        # the AppView's errors are answered as they are, for handles too
        status, body = await get_record(pds, "bob.remote.test", "3kt0000000002")
        assert (status, body) == (
            400,
            {
                "error": "RecordNotFound",
                "message": f"Could not locate record: at://bob.remote.test/{POST}/3kt0000000002",
            },
        )

        # a repo hosted here is served from here; an inactive one is asked of the AppView
        did, _ = await create_test_account(pds.ctx, "alice.test")
        calls = len(appview.calls)
        status, body = await get_record(pds, did, "3kt0000000001")
        assert (status, body["error"]) == (400, "RecordNotFound")
        assert len(appview.calls) == calls
        await set_status(pds.ctx, did, "deactivated")
        status, body = await get_record(pds, did, "3kt0000000001")
        assert status == 200 and body["value"]["text"] == "from the appview"
        assert appview.calls[-1][1]["repo"] == did


async def test_without_an_appview(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=AREAS)
    status, body = await get_record(pds, REMOTE, "3kt0000000001")
    assert (status, body) == (
        400,
        {"error": "InvalidRequest", "message": "Could not locate record"},
    )
    # a configured AppView that does not answer
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    pds = await pds_factory(
        areas=AREAS, appview_url=f"http://127.0.0.1:{closed}", appview_did="did:web:gone.test"
    )
    status, body = await get_record(pds, REMOTE, "3kt0000000001")
    assert (status, body["error"]) == (502, "UpstreamFailure")
