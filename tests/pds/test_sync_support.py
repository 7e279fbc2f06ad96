"""Shared helpers of the repo, sync and firehose tests: calls with sessions, accounts in any
hosting state, a loopback PLC directory, and a checker for every firehose frame."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sonet.crypto import Keypair, PublicKey, generate_keypair
from sonet.identity.plc_client import create_did
from sonet.identity.plc_server import create_app
from sonet.pds.accounts.directory import AccountDirectory
from sonet.pds.context import PdsContext
from sonet.repo import cbor
from sonet.repo.blockstore import MemoryBlockstore
from sonet.repo.car import read_car
from sonet.repo.cid import CID
from sonet.repo.commit import decode_commit, verify_commit
from sonet.repo.mst_proof import RepoOp, verify_commit_proof
from sonet.storage.database import Database, sqlite_url
from sonet.storage.plc_store import PlcStore, migrate_plc
from sonet.xrpc.frames import ErrorFrame, MessageFrame, decode_frame
from tests.pds.conftest import RunningPds

AREAS = ["sonet.pds.api.repo", "sonet.pds.api.sync"]
CREATED_AT = "2026-11-22T00:00:00.000Z"


def post(text: str) -> dict[str, Any]:
    return {"$type": "app.bsky.feed.post", "text": text, "createdAt": CREATED_AT}


def bearer(pds: RunningPds, did: str, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {pds.ctx.tokens.create_access(did, **kwargs)}"}


async def xrpc(
    pds: RunningPds,
    nsid: str,
    *,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    as_did: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """Call a method; returns (status, JSON body or raw bytes)."""
    sent = dict(headers or {})
    if as_did is not None:
        sent.update(bearer(pds, as_did))
    method = pds.client.post if body is not None else pds.client.get
    kwargs: dict[str, Any] = {"params": params or {}, "headers": sent}
    if body is not None:
        kwargs["json"] = body
    resp = await method(f"/xrpc/{nsid}", **kwargs)
    data = await resp.read()
    if resp.content_type == "application/json":
        return resp.status, await resp.json() if data else None
    return resp.status, data


async def ok(pds: RunningPds, nsid: str, **kwargs: Any) -> Any:
    status, out = await xrpc(pds, nsid, **kwargs)
    assert status == 200, (nsid, status, out)
    return out


async def fails(pds: RunningPds, nsid: str, status: int, error: str, **kwargs: Any) -> str:
    got, out = await xrpc(pds, nsid, **kwargs)
    assert (got, out.get("error") if isinstance(out, dict) else out) == (status, error), out
    return str(out.get("message"))


async def set_status(ctx: PdsContext, did: str, status: str) -> None:
    """Put an account in a hosting state (``active``, ``deactivated``, ``takendown``)."""
    async with ctx.db.write() as conn:
        await ctx.accounts.store.set_fields(
            conn,
            did,
            status=status,
            deactivated_at=time.time_ns() // 1000 if status == "deactivated" else None,
            takedown_ref="ref-1" if status == "takendown" else None,
        )


async def add_account(ctx: PdsContext, did: str, handle: str, key: Keypair) -> None:
    """An account with a chosen DID and key and an empty repo."""
    async with ctx.sequencer.transaction() as tx:
        await ctx.accounts.store.insert(tx.conn, AccountDirectory.new_row(did, handle, key))
        await ctx.repos.create_repo(tx, did, key)


@asynccontextmanager
async def plc_directory(tmp_path: Path) -> AsyncIterator[str]:
    """A real PLC directory on a loopback port (SQLite); yields its URL."""
    db = Database.open(sqlite_url(tmp_path / "plc.sqlite"))
    await migrate_plc(db)
    runner = web.AppRunner(create_app(PlcStore(db)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
        await db.close()


async def register_did(plc_url: str, signing_key: Keypair, handle: str) -> str:
    """A did:plc for ``signing_key`` and ``handle`` in the directory at ``plc_url``."""
    rotation = generate_keypair()
    async with aiohttp.ClientSession() as session:
        created = await create_did(
            plc_url,
            signing_key,
            [rotation],
            handle,
            "https://pds.test",
            session=session,
        )
    return created.did


@dataclass
class FirehoseChecker:
    """Checks frames the way a relay would: sequence order, commit signatures, and each
    ``#commit``'s sync 1.1 proof against the previous commit's data root of its repo."""

    keys: dict[str, PublicKey]
    last_seq: int | None = None
    prev_data: dict[str, CID] = field(default_factory=dict)
    kinds: list[str] = field(default_factory=list)
    commits: list[dict[str, Any]] = field(default_factory=list)

    def check(self, data: bytes) -> MessageFrame | ErrorFrame:
        frame = decode_frame(data)
        if isinstance(frame, ErrorFrame):
            self.kinds.append("error")
            return frame
        assert frame.type is not None
        self.kinds.append(frame.type)
        body = frame.body
        if frame.type == "#info":
            return frame
        if self.last_seq is not None:
            assert body["seq"] == self.last_seq + 1, (body["seq"], self.last_seq)
        self.last_seq = body["seq"]
        if frame.type == "#commit":
            self._commit(body)
        elif frame.type == "#sync":
            car = read_car(body["blocks"])
            commit = decode_commit(car.blocks[car.root])
            assert verify_commit(commit, self.keys[body["did"]])
            self.prev_data[body["did"]] = commit.data
        return frame

    def _commit(self, body: dict[str, Any]) -> None:
        car = read_car(body["blocks"])
        assert car.root == body["commit"]
        commit = decode_commit(car.blocks[body["commit"]])
        repo = body["repo"]
        assert commit.rev == body["rev"]
        assert verify_commit(commit, self.keys[repo])
        ops = [RepoOp(o["action"], o["path"], o["cid"], o.get("prev")) for o in body["ops"]]
        if repo in self.prev_data:
            assert body["prevData"] == self.prev_data[repo]
            verify_commit_proof(MemoryBlockstore(car.blocks), commit.data, ops, body["prevData"])
        for op in ops:
            if op.cid is not None:
                assert isinstance(cbor.decode(car.blocks[op.cid]), dict)
        self.prev_data[repo] = commit.data
        self.commits.append(body)
