"""Relay fixtures: a real PLC directory, scripted PDS hosts and relays on loopback (SQLite with
the on-disk event log, and PostgreSQL with the event log in the database)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from sonet.identity.plc_server import create_app
from sonet.relay.app import build_relay_app, close_relay, create_relay
from sonet.relay.config import RelayConfig
from sonet.relay.relay import Relay
from sonet.storage.database import Database, sqlite_url
from sonet.storage.plc_store import PlcStore, migrate_plc
from sonet.xrpc.frames import ErrorFrame, MessageFrame, decode_frame
from tests.net.servers import serve_app
from tests.relay.fake_pds import FakePds, PlcAccounts, running_fake_pds

ADMIN_PASSWORD = "admin-pass"


@pytest.fixture
async def plc_url(tmp_path: Path) -> AsyncIterator[str]:
    """A real Sonet PLC directory on loopback."""
    db = Database.open(sqlite_url(tmp_path / "plc.sqlite"))
    await migrate_plc(db)
    async with serve_app(create_app(PlcStore(db))) as port:
        yield f"http://localhost:{port}"
    await db.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def accounts(plc_url: str, http: aiohttp.ClientSession) -> PlcAccounts:
    return PlcAccounts(plc_url, http)


@pytest.fixture
async def pds() -> AsyncIterator[FakePds]:
    async with running_fake_pds() as running:
        yield running


@pytest.fixture
async def pds2() -> AsyncIterator[FakePds]:
    async with running_fake_pds() as running:
        yield running


@dataclass
class RunningRelay:
    """A relay serving on loopback."""

    relay: Relay
    client: TestClient[Any, Any]
    stopped: bool = False

    @property
    def url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    @property
    def admin(self) -> dict[str, str]:
        """Headers authenticating as the relay's admin."""
        return {"Authorization": aiohttp.encode_basic_auth("admin", ADMIN_PASSWORD)}

    async def crawl(self, hostname: str) -> None:
        """``requestCrawl`` through the public endpoint."""
        resp = await self.client.post(
            "/xrpc/com.atproto.sync.requestCrawl", json={"hostname": hostname}
        )
        assert resp.status == 200, await resp.text()

    def dropped(self, host: str) -> dict[str, int]:
        return self.relay.stats.drops_for(host)


RelayFactory = Callable[..., Awaitable[RunningRelay]]


@pytest.fixture(params=["sqlite", "postgres"])
async def relay_factory(
    request: pytest.FixtureRequest, tmp_path: Path, plc_url: str, postgres_url: str
) -> AsyncIterator[RelayFactory]:
    """``await relay_factory(**config)`` starts a relay; all are stopped afterwards.

    Passing ``data_dir`` (and, on PostgreSQL, ``database_schema``) of an earlier relay restarts
    on the same state."""
    running: list[RunningRelay] = []
    schemas: list[str] = []
    admin = await asyncpg.connect(postgres_url, timeout=5) if request.param == "postgres" else None

    async def start(**overrides: Any) -> RunningRelay:
        config = RelayConfig(
            data_dir=tmp_path / f"relay{len(running)}",
            plc_url=plc_url,
            admin_password=ADMIN_PASSWORD,
            allow_private_hosts=True,
            verify_workers=0,
            identity_refresh_interval=0.0,
        )
        if admin is not None:
            schema = overrides.get("database_schema") or f"t_{uuid.uuid4().hex[:12]}"
            if schema not in schemas:
                await admin.execute(f'CREATE SCHEMA "{schema}"')
                schemas.append(schema)
            config = replace(config, database_url=postgres_url, database_schema=schema)
        config = replace(config, **overrides)
        relay = await create_relay(config)
        client: TestClient[Any, Any] = TestClient(
            TestServer(build_relay_app(relay, validate_output=True))
        )
        await client.start_server()
        started = RunningRelay(relay, client)
        running.append(started)
        return started

    start.backend = request.param  # type: ignore[attr-defined]
    yield start
    for item in running:
        await stop_relay(item)
    if admin is not None:
        for schema in schemas:
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def stop_relay(item: RunningRelay) -> None:
    """Stop a relay (idempotent)."""
    if item.stopped:
        return
    item.stopped = True
    await item.client.close()
    await close_relay(item.relay)


@dataclass
class Consumer:
    """A ``subscribeRepos`` client collecting decoded frames."""

    frames: list[MessageFrame | ErrorFrame] = field(default_factory=list)
    closed: bool = False

    def messages(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [
            f.body
            for f in self.frames
            if isinstance(f, MessageFrame) and (kind is None or f.type == kind)
        ]

    def types(self) -> list[str | None]:
        return [f.type if isinstance(f, MessageFrame) else f.error for f in self.frames]

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.frames) < count and not self.closed:
                await asyncio.sleep(0.01)
        assert len(self.frames) >= count, self.types()


async def _consume(ws: aiohttp.ClientWebSocketResponse, consumer: Consumer) -> None:
    async for message in ws:
        if message.type == aiohttp.WSMsgType.BINARY:
            consumer.frames.append(decode_frame(message.data))
    consumer.closed = True


class consume:
    """Connect a :class:`Consumer` to ``url`` (optionally from ``cursor``)."""

    def __init__(self, url: str, cursor: int | None = None) -> None:
        self.url = f"{url}/xrpc/com.atproto.sync.subscribeRepos"
        if cursor is not None:
            self.url += f"?cursor={cursor}"
        self.consumer = Consumer()

    async def __aenter__(self) -> Consumer:
        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(self.url, max_msg_size=8 * 1024 * 1024)
        self._task = asyncio.create_task(_consume(self._ws, self.consumer))
        return self.consumer

    async def __aexit__(self, *_exc: object) -> None:
        await self._ws.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._session.close()


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``check()`` is true."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


__all__ = [
    "ADMIN_PASSWORD",
    "Consumer",
    "FakePds",
    "PlcAccounts",
    "RelayFactory",
    "RunningRelay",
    "consume",
    "eventually",
    "stop_relay",
]
