"""Shared pieces of the accounts-area tests: a PLC directory on loopback, a PDS serving the
server and admin areas, and small XRPC helpers. (Imported by the test_server_*/test_admin_*
modules; the one test here checks the fixtures themselves.)"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sonet.lexicons.validate import validate_message
from sonet.pds.accounts.service import account_service
from sonet.storage.sequencer_store import SequencedEvent
from sonet.xrpc.frames import MessageFrame, decode_frame
from tests.pds.conftest import PdsFactory, RunningPds
from tests.pds.test_sync_support import plc_directory

SUBSCRIBE_REPOS = "com.atproto.sync.subscribeRepos"
AREAS = ["sonet.pds.api.server", "sonet.pds.api.admin"]
PASSWORD = "correct-horse-battery"
NO_BODY = object()
"""Marks a procedure call without a request body."""
ADMIN_AUTH = "Basic " + base64.b64encode(b"admin:admin-pass").decode()


@pytest.fixture
async def plc_url(tmp_path: Path) -> AsyncIterator[str]:
    """A Sonet PLC directory (SQLite) serving on a loopback port."""
    async with plc_directory(tmp_path) as url:
        yield url


@pytest.fixture
async def pds(pds_factory: PdsFactory, plc_url: str) -> RunningPds:
    """A PDS with the accounts areas, minting DIDs on the loopback PLC directory; logins are
    not slowed down (one test checks the timing floor on its own)."""
    running = await pds_factory(areas=AREAS, plc_url=plc_url)
    account_service(running.ctx).login_floor = 0.0
    return running


async def call(
    pds: RunningPds,
    nsid: str,
    body: Any = None,
    *,
    token: str | None = None,
    admin: bool = False,
    params: dict[str, Any] | None = None,
    status: int = 200,
) -> Any:
    """Call an XRPC method (POST with ``body``, or with no body for :data:`NO_BODY`; GET
    without) and check the status."""
    headers: dict[str, str] = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if admin:
        headers["Authorization"] = ADMIN_AUTH
    if body is None:
        resp = await pds.client.get(f"/xrpc/{nsid}", params=params, headers=headers)
    elif body is NO_BODY:
        resp = await pds.client.post(f"/xrpc/{nsid}", headers=headers)
    else:
        resp = await pds.client.post(f"/xrpc/{nsid}", json=body, headers=headers, params=params)
    text = await resp.text()
    assert resp.status == status, f"{nsid}: {resp.status} {text}"
    return await resp.json() if text else None


async def signup(
    pds: RunningPds, name: str, *, password: str = PASSWORD, **extra: Any
) -> dict[str, Any]:
    """Create ``<name>.test`` through createAccount."""
    body = {"handle": f"{name}.test", "email": f"{name}@example.com", "password": password}
    body.update(extra)
    return await call(pds, "com.atproto.server.createAccount", body)  # type: ignore[no-any-return]


async def events_of(pds: RunningPds, did: str) -> list[tuple[str, dict[str, Any]]]:
    """The sequenced events of ``did``: (type, decoded body), checking each frame's header."""
    async with pds.ctx.db.read() as conn:
        events: list[SequencedEvent] = await pds.ctx.sequencer.store.read_after(conn, 0, 10_000)
    out = []
    for event in events:
        if event.did != did:
            continue
        frame = decode_frame(event.frame)
        assert isinstance(frame, MessageFrame) and frame.type == event.kind
        assert frame.body["seq"] == event.seq
        validate_message(pds.ctx.lexicons, SUBSCRIBE_REPOS, frame.body, frame.type)
        out.append((event.kind, frame.body))
    return out


async def test_fixtures_serve_a_pds_and_a_plc(pds: RunningPds, plc_url: str) -> None:
    assert pds.ctx.config.plc_url == plc_url
    described = await call(pds, "com.atproto.server.describeServer")
    assert described["availableUserDomains"] == [".test"]
