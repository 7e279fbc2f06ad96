"""A real but scripted PDS on loopback: ``describeServer`` and a ``subscribeRepos`` WebSocket
that replays its history after ``?cursor=`` and then streams whatever the test pushes, including
crafted hostile frames. Its accounts' DID documents live in a real PLC directory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from sonet.crypto import Keypair, generate_keypair
from sonet.identity.plc_client import PlcClient, create_did
from tests.net.servers import serve_app
from tests.relay.synthetic import SyntheticAccount, error_frame


@dataclass
class FakePds:
    """The scripted host; ``hostname`` is ``localhost:<port>``."""

    port: int = 0
    history: list[tuple[int, bytes]] = field(default_factory=list)
    seq: int = 0
    sockets: set[web.WebSocketResponse] = field(default_factory=set)
    connects: list[int | None] = field(default_factory=list)
    sent: int = 0

    @property
    def hostname(self) -> str:
        return f"localhost:{self.port}"

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/xrpc/com.atproto.server.describeServer", self._describe)
        app.router.add_get("/xrpc/com.atproto.sync.subscribeRepos", self._subscribe)
        return app

    async def _describe(self, _request: web.Request) -> web.Response:
        return web.json_response({"did": "did:web:localhost", "availableUserDomains": [".test"]})

    async def _subscribe(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        raw = request.query.get("cursor")
        cursor = int(raw) if raw is not None else None
        self.connects.append(cursor)
        if cursor is not None and cursor > self.seq:
            await ws.send_bytes(error_frame("FutureCursor", "Cursor in the future."))
            await ws.close()
            return ws
        if cursor is not None:
            for seq, frame in list(self.history):
                if seq > cursor:
                    await ws.send_bytes(frame)
        self.sockets.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            self.sockets.discard(ws)
        return ws

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def push(self, frame: bytes, seq: int | None = None) -> None:
        """Record ``frame`` (as event ``seq``, default the current one) and send it live."""
        self.history.append((self.seq if seq is None else seq, frame))
        self.sent += 1
        for ws in list(self.sockets):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_bytes(frame)

    async def emit(self, build: Callable[[int], bytes]) -> int:
        """Number the next event, build its frame and push it; returns its seq."""
        seq = self.next_seq()
        await self.push(build(seq), seq)
        return seq

    async def wait_connected(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not self.sockets:
                await asyncio.sleep(0.01)

    async def disconnect_all(self) -> None:
        for ws in list(self.sockets):
            await ws.close()


@asynccontextmanager
async def running_fake_pds() -> AsyncIterator[FakePds]:
    pds = FakePds()
    async with serve_app(pds.app()) as port:
        pds.port = port
        try:
            yield pds
        finally:
            await pds.disconnect_all()


@dataclass
class PlcAccounts:
    """Creates accounts in a real PLC directory, hosted by a given PDS URL."""

    plc_url: str
    session: aiohttp.ClientSession
    rotation: dict[str, Keypair] = field(default_factory=dict)

    async def create(self, pds_url: str, handle: str, records: int = 0) -> SyntheticAccount:
        key = generate_keypair("k256")
        rotation = generate_keypair("k256")
        created = await create_did(
            self.plc_url, key, [rotation], handle, pds_url, session=self.session
        )
        self.rotation[created.did] = rotation
        return SyntheticAccount(created.did, key, records)

    async def update(
        self,
        did: str,
        *,
        signing_key: Keypair | None = None,
        handle: str | None = None,
        pds_url: str | None = None,
    ) -> None:
        await PlcClient(self.session, self.plc_url).update_atproto(
            did, self.rotation[did], signing_key=signing_key, handle=handle, pds_endpoint=pds_url
        )
