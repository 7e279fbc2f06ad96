"""Synthetic repositories that produce real firehose messages (signed commits, sync 1.1 proofs).

A :class:`SyntheticAccount` keeps an MST in memory and builds ``#commit`` bodies exactly as a PDS
does; each built commit can be altered before framing to make hostile variants (forged
signature, old key, rev going backwards, proof not matching ``prevData``...). Used by the relay
tests and by ``bench/bench_relay.py``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sonet.crypto import Keypair, generate_keypair
from sonet.repo.blockstore import MemoryBlockstore
from sonet.repo.car import car_bytes
from sonet.repo.cbor import encode_with_cid
from sonet.repo.cid import CID
from sonet.repo.commit import sign_commit
from sonet.repo.mst import MST
from sonet.repo.mst_proof import RepoOp, commit_proof_blocks
from sonet.sync.events import account_body, commit_body, identity_body, sync_body
from sonet.syntax.datetime import format_datetime
from sonet.syntax.tid import next_tid, parse_tid, tid_from
from sonet.xrpc.frames import ErrorFrame, MessageFrame

BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def random_plc_did() -> str:
    return "did:plc:" + "".join(secrets.choice(BASE32) for _ in range(24))


def now_iso() -> str:
    return format_datetime(datetime.now(UTC))


def next_rev(previous: str | None) -> str:
    rev = next_tid()
    if previous is not None and rev <= previous:
        timestamp, clock = parse_tid(previous)
        rev = tid_from(timestamp + 1, clock)
    return rev


@dataclass
class BuiltCommit:
    """A commit ready to be framed; fields may be changed to make hostile variants."""

    did: str
    rev: str
    since: str | None
    commit_cid: CID
    blocks: bytes
    ops: list[RepoOp]
    prev_data: CID | None
    data: CID
    tree: MST
    new_blocks: dict[CID, bytes]
    time: str = field(default_factory=now_iso)

    def body(self, seq: int, **overrides: Any) -> dict[str, Any]:
        body = commit_body(
            seq=seq,
            repo=self.did,
            commit=self.commit_cid,
            rev=self.rev,
            since=self.since,
            blocks=self.blocks,
            ops=self.ops,
            prev_data=self.prev_data,
            time=self.time,
        )
        body.update(overrides)
        return body

    def frame(self, seq: int, **overrides: Any) -> bytes:
        return MessageFrame(self.body(seq, **overrides), "#commit").to_bytes()


class SyntheticAccount:
    """An account's repository held in memory."""

    def __init__(self, did: str, key: Keypair, records: int = 0) -> None:
        self.did = did
        self.key = key
        self.blocks = MemoryBlockstore()
        items = []
        for i in range(records):
            cid, block = encode_with_cid(_post(f"seed {i}"))
            self.blocks.put(cid, block)
            items.append((f"app.bsky.feed.post/{next_tid()}", cid))
        tree = MST.from_items(items, self.blocks)
        self.blocks.update(tree.new_blocks())
        self.tree = MST.load(self.blocks, tree.root_cid)
        self.rev: str | None = None
        self.commit_cid: CID | None = None
        self.paths: list[str] = [path for path, _ in items]

    @classmethod
    def generate(cls, records: int = 0) -> SyntheticAccount:
        return cls(random_plc_did(), generate_keypair("k256"), records)

    def build_commit(
        self,
        creates: int = 1,
        *,
        updates: int = 0,
        deletes: int = 0,
        key: Keypair | None = None,
        rev: str | None = None,
        text: str = "hello",
    ) -> BuiltCommit:
        """The next commit (not applied: call :meth:`advance` if the relay should accept it)."""
        tree = self.tree
        ops: list[RepoOp] = []
        records: dict[CID, bytes] = {}
        for path in self.paths[:updates]:
            cid, block = encode_with_cid(_post(f"{text} (edited)"))
            ops.append(RepoOp("update", path, cid, tree.get(path)))
            tree = tree.put(path, cid)
            records[cid] = block
        for path in self.paths[updates : updates + deletes]:
            ops.append(RepoOp("delete", path, None, tree.get(path)))
            tree = tree.delete(path)
        for i in range(creates):
            cid, block = encode_with_cid(_post(f"{text} {i}"))
            path = f"app.bsky.feed.post/{next_tid()}"
            ops.append(RepoOp("create", path, cid))
            tree = tree.put(path, cid)
            records[cid] = block
        new_nodes = dict(tree.new_blocks())
        source = MemoryBlockstore(new_nodes, fallback=self.blocks)
        proof = commit_proof_blocks(source, tree.root_cid, ops)
        new_rev = rev or next_rev(self.rev)
        commit = sign_commit(self.did, tree.root_cid, new_rev, key or self.key)
        commit_cid, commit_block = commit.to_block()
        blocks = {commit_cid: commit_block, **records, **new_nodes, **proof}
        return BuiltCommit(
            did=self.did,
            rev=new_rev,
            since=self.rev,
            commit_cid=commit_cid,
            blocks=car_bytes(commit_cid, blocks.items()),
            ops=ops,
            prev_data=self.tree.root_cid,
            data=tree.root_cid,
            tree=tree,
            new_blocks={**new_nodes, **records},
        )

    def advance(self, built: BuiltCommit) -> None:
        """Make ``built`` the current state (it was, or should be, accepted)."""
        self.blocks.update(built.new_blocks.items())
        self.tree = built.tree.persisted()
        self.rev = built.rev
        self.commit_cid = built.commit_cid
        for op in built.ops:
            if op.action == "create":
                self.paths.append(op.path)
            elif op.action == "delete":
                self.paths.remove(op.path)

    def commit(self, seq: int, creates: int = 1, **kwargs: Any) -> bytes:
        """Build, apply and frame the next valid commit."""
        built = self.build_commit(creates, **kwargs)
        self.advance(built)
        return built.frame(seq)

    def sync_frame(self, seq: int, *, key: Keypair | None = None) -> bytes:
        """A ``#sync`` carrying a freshly signed commit of the current tree."""
        rev = next_rev(self.rev)
        commit = sign_commit(self.did, self.tree.root_cid, rev, key or self.key)
        commit_cid, block = commit.to_block()
        self.rev = rev
        self.commit_cid = commit_cid
        body = sync_body(
            seq=seq,
            did=self.did,
            blocks=car_bytes(commit_cid, [(commit_cid, block)]),
            rev=rev,
            time=now_iso(),
        )
        return MessageFrame(body, "#sync").to_bytes()


def identity_frame(seq: int, did: str, handle: str | None = None) -> bytes:
    return MessageFrame(
        identity_body(seq=seq, did=did, time=now_iso(), handle=handle), "#identity"
    ).to_bytes()


def account_frame(seq: int, did: str, active: bool, status: str | None = None) -> bytes:
    body = account_body(seq=seq, did=did, time=now_iso(), active=active, status=status)
    return MessageFrame(body, "#account").to_bytes()


def error_frame(name: str, message: str | None = None) -> bytes:
    return ErrorFrame(name, message).to_bytes()


def _post(text: str) -> dict[str, Any]:
    return {"$type": "app.bsky.feed.post", "text": text, "createdAt": now_iso()}
