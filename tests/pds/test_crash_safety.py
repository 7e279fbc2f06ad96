"""Crash safety: SIGKILL the PDS in the middle of a write burst, restart it, and check that every
acknowledged write is there, every repo verifies, and the firehose has no gap."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from sonet.identity.did_resolver import DidResolver
from sonet.net.http import HttpClient, HttpClientConfig
from sonet.repo.car import read_car
from sonet.repo.commit import decode_commit
from sonet.repo.repo_car import verify_repo_car
from sonet.xrpc.frames import MessageFrame, decode_frame

USERS = 4
PASSWORD = "crash-test-password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``python -m sonet serve`` in a child process (PDS + built-in PLC)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = int(env["SONET_PORT"])
        self.url = f"http://localhost:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sonet", "serve"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{self.url}/xrpc/_health") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if self.proc.poll() is not None:
                    raise AssertionError("the server exited while starting")
                await asyncio.sleep(0.1)
        raise AssertionError("the server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)


@pytest.fixture(params=["sqlite", "postgres"])
async def server_env(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[dict[str, str]]:
    env = {
        **os.environ,
        "SONET_PORT": str(_free_port()),
        "SONET_PLC_PORT": str(_free_port()),
        "SONET_DATA_DIR": str(tmp_path / "data"),
        "SONET_JWT_SECRET": "crash-test-secret-crash-test-secret",
    }
    for key in ("SONET_PLC_URL", "SONET_DATABASE_URL", "SONET_DATABASE_SCHEMA"):
        env.pop(key, None)
    if request.param == "sqlite":
        yield env
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_url, timeout=5)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    env["SONET_DATABASE_URL"] = postgres_url
    env["SONET_DATABASE_SCHEMA"] = schema
    try:
        yield env
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def _call(
    http: aiohttp.ClientSession,
    url: str,
    nsid: str,
    body: Any = None,
    token: str | None = None,
    params: dict[str, str] | None = None,
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is None:
        async with http.get(f"{url}/xrpc/{nsid}", params=params, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            return await (resp.json() if resp.content_type == "application/json" else resp.read())
    async with http.post(f"{url}/xrpc/{nsid}", json=body, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_sigkill_during_write_burst(server_env: dict[str, str]) -> None:
    server = Server(server_env)
    await server.start()
    acked: dict[str, tuple[str, str]] = {}  # uri -> (did, cid)
    users: list[tuple[str, str]] = []
    try:
        async with aiohttp.ClientSession() as http:
            for i in range(USERS):
                made = await _call(
                    http,
                    server.url,
                    "com.atproto.server.createAccount",
                    {
                        "handle": f"user{i}.test",
                        "email": f"user{i}@example.com",
                        "password": PASSWORD,
                    },
                )
                users.append((made["did"], made["accessJwt"]))

            async def writer(did: str, token: str) -> None:
                n = 0
                while True:
                    body = {
                        "repo": did,
                        "collection": "app.bsky.feed.post",
                        "record": {
                            "$type": "app.bsky.feed.post",
                            "text": f"post {n}",
                            "createdAt": "2026-11-22T00:00:00.000Z",
                        },
                    }
                    try:
                        out = await _call(
                            http, server.url, "com.atproto.repo.createRecord", body, token
                        )
                    except (TimeoutError, aiohttp.ClientError, AssertionError):
                        return  # the server died under us
                    acked[out["uri"]] = (did, out["cid"])
                    n += 1

            tasks = [asyncio.create_task(writer(did, tok)) for did, tok in users for _ in range(3)]
            while len(acked) < 150:
                await asyncio.sleep(0.01)
            server.kill()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
    finally:
        server.stop()

    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            for uri, (did, cid) in acked.items():
                _, _, _, collection, rkey = uri.split("/")
                got = await _call(
                    http,
                    server.url,
                    "com.atproto.repo.getRecord",
                    params={"repo": did, "collection": collection, "rkey": rkey},
                )
                assert got["cid"] == cid
            plc_url = f"http://localhost:{server_env['SONET_PLC_PORT']}"
            resolver = DidResolver(
                HttpClient(HttpClientConfig(allow_private=True)), plc_url=plc_url
            )
            heads: dict[str, str] = {}
            for did, _ in users:
                car = await _call(http, server.url, "com.atproto.sync.getRepo", params={"did": did})
                key = await resolver.resolve_signing_key(did)
                repo = verify_repo_car(car, did=did, key=key)
                mine = {u.split("/", 3)[3] for u, (d, _) in acked.items() if d == did}
                assert mine <= set(repo.records)
                heads[did] = repo.commit_cid.encode()
            await resolver.close()
            # the whole firehose from the start: gap-free, ending at each repo's head
            seqs: list[int] = []
            last_commit: dict[str, str] = {}
            ws_url = f"ws://localhost:{server.port}/xrpc/com.atproto.sync.subscribeRepos?cursor=0"
            async with http.ws_connect(ws_url) as ws:
                while True:
                    try:
                        msg = await ws.receive(timeout=2)
                    except TimeoutError:
                        break
                    if msg.type != aiohttp.WSMsgType.BINARY:
                        break
                    frame = decode_frame(msg.data)
                    assert isinstance(frame, MessageFrame)
                    seqs.append(frame.body["seq"])
                    if frame.type == "#commit":
                        car = read_car(frame.body["blocks"])
                        decode_commit(car.blocks[car.root])
                        last_commit[frame.body["repo"]] = frame.body["commit"].encode()
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
            assert seqs[0] == 1
            assert last_commit == heads
    finally:
        server.stop()
