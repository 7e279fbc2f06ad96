"""PDS fixtures: a real PDS app on a loopback port, on SQLite and on PostgreSQL."""

from __future__ import annotations

import secrets
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from sonet.crypto import Keypair, generate_keypair
from sonet.pds.accounts.directory import AccountDirectory
from sonet.pds.app import build_pds_app, create_pds
from sonet.pds.config import PdsConfig
from sonet.pds.context import PdsContext


@dataclass
class RunningPds:
    """A PDS serving on loopback: its context and an HTTP client pointed at it."""

    ctx: PdsContext
    client: TestClient[Any, Any]

    @property
    def url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")


async def create_test_account(ctx: PdsContext, handle: str) -> tuple[str, Keypair]:
    """An account with an empty repo, made directly (no PLC, no password): for area tests."""
    key = generate_keypair()
    did = "did:plc:" + "".join(
        secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(24)
    )
    async with ctx.sequencer.transaction() as tx:
        await ctx.accounts.store.insert(tx.conn, AccountDirectory.new_row(did, handle, key))
        await ctx.repos.create_repo(tx, did, key)
    return did, key


PdsFactory = Callable[..., Awaitable[RunningPds]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["sqlite", "postgres"])
async def pds_factory(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[PdsFactory]:
    """``await pds_factory(areas=[...], **config)`` starts a PDS; all are stopped afterwards."""
    running: list[RunningPds] = []
    schemas: list[str] = []
    admin = await asyncpg.connect(postgres_url, timeout=5) if request.param == "postgres" else None

    async def start(areas: Sequence[str] | None = None, **overrides: Any) -> RunningPds:
        data_dir = tmp_path / f"pds{len(running)}"
        port = _free_port()
        config = PdsConfig(
            data_dir=data_dir,
            admin_password="admin-pass",
            jwt_secret="test-secret-test-secret-test-secret",
            port=port,
            public_url=f"http://localhost:{port}",
        )
        if admin is not None:
            schema = f"t_{uuid.uuid4().hex[:12]}"
            await admin.execute(f'CREATE SCHEMA "{schema}"')
            schemas.append(schema)
            config = replace(config, database_url=postgres_url, database_schema=schema)
        config = replace(config, **overrides)
        ctx = await create_pds(config, areas=areas)
        server = TestServer(
            build_pds_app(ctx, validate_output=True), host="127.0.0.1", port=config.port
        )
        client: TestClient[Any, Any] = TestClient(server)
        await client.start_server()
        pds = RunningPds(ctx, client)
        running.append(pds)
        return pds

    yield start
    for pds in running:
        await pds.client.close()
    if admin is not None:
        for schema in schemas:
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
