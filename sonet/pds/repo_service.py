"""The PDS write path: apply record writes to a repository as one signed commit.

https://atproto.com/specs/repository#commit-objects and https://atproto.com/specs/sync#firehose.
Each call prepares the records (CPU only), then under the repo's lock updates the MST held in
memory, signs the commit, gathers the sync 1.1 proof blocks, and in one database transaction
stores blocks, records, the new head and the ``#commit`` event. Either all of it lands or none.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sonet.crypto import Keypair
from sonet.lexicons import Lexicons
from sonet.pds.block_fill import run_filled
from sonet.pds.errors import InvalidRecordError, InvalidSwapError, RepoNotFoundError
from sonet.pds.repo_writes import NO_SWAP, PreparedWrite, WriteRequest, prepare_write
from sonet.pds.sequencer import Sequencer, SequenceTransaction
from sonet.repo.blockstore import MemoryBlockstore
from sonet.repo.car import car_bytes
from sonet.repo.cid import CID
from sonet.repo.commit import Commit, sign_commit
from sonet.repo.mst import MST
from sonet.repo.mst_diff import removed_nodes
from sonet.repo.mst_proof import RepoOp, commit_proof_blocks
from sonet.storage.database import Database
from sonet.storage.pds_repo_store import CommitWrite, HeadMovedError, RepoRoot, RepoStore
from sonet.sync.events import commit_body
from sonet.syntax.tid import next_tid, parse_tid, tid_from
from sonet.xrpc.frames import MessageFrame

__all__ = ["BlobHook", "CommitResult", "RepoService", "WriteResult"]

BlobHook = Callable[
    [SequenceTransaction, str, Sequence[PreparedWrite], Sequence[PreparedWrite]], Awaitable[None]
]
"""Called inside the commit transaction with (tx, did, writes, deleted-or-replaced writes)."""

MAX_CACHED_REPOS = 2_000
MAX_CACHED_NODES = 50_000
MAX_COMMIT_BLOCKS_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Outcome of one write: ``uri``/``cid``/``validation_status`` (None for deletes)."""

    action: str
    uri: str
    cid: CID | None
    validation_status: str | None


@dataclass(frozen=True, slots=True)
class CommitResult:
    """A landed commit."""

    commit_cid: CID
    rev: str
    results: list[WriteResult]


@dataclass
class _RepoState:
    root: RepoRoot
    tree: MST
    blocks: MemoryBlockstore


def now_iso() -> str:
    """Current time as an atproto datetime (UTC, milliseconds, ``Z``)."""
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def next_rev(previous: str | None) -> str:
    """A TID greater than ``previous`` (revs must increase even if the clock goes back)."""
    rev = next_tid()
    if previous is not None and rev <= previous:
        timestamp, clock_id = parse_tid(previous)
        rev = tid_from(timestamp + 1, clock_id)
    return rev


class RepoService:
    """Creates repositories and applies writes to them."""

    def __init__(
        self,
        db: Database,
        sequencer: Sequencer,
        lexicons: Lexicons,
        signing_key: Callable[[str], Awaitable[Keypair]],
        blob_hook: BlobHook | None = None,
    ) -> None:
        self.db = db
        self.store = RepoStore()
        self.sequencer = sequencer
        self.lexicons = lexicons
        self.signing_key = signing_key
        self.blob_hook = blob_hook
        self._locks: dict[str, asyncio.Lock] = {}
        self._states: OrderedDict[str, _RepoState] = OrderedDict()

    # -- state -------------------------------------------------------------------------------

    def _lock(self, did: str) -> asyncio.Lock:
        lock = self._locks.get(did)
        if lock is None:
            lock = self._locks[did] = asyncio.Lock()
        return lock

    async def _fetcher(self, did: str) -> Callable[[Iterable[CID]], Awaitable[dict[CID, bytes]]]:
        async def fetch(cids: Iterable[CID]) -> dict[CID, bytes]:
            async with self.db.read() as conn:
                return await self.store.get_blocks(conn, did, cids)

        return fetch

    async def _state(self, did: str) -> _RepoState:
        state = self._states.get(did)
        if state is not None:
            self._states.move_to_end(did)
            return state
        async with self.db.read() as conn:
            root = await self.store.get_root(conn, did)
        if root is None:
            raise RepoNotFoundError(f"Could not find repo for DID: {did}")
        blocks = MemoryBlockstore()
        state = _RepoState(root, MST.load(blocks, root.data_cid), blocks)
        self._states[did] = state
        while len(self._states) > MAX_CACHED_REPOS:
            self._states.popitem(last=False)
        return state

    def forget(self, did: str) -> None:
        """Drop cached state of ``did`` (after an import or a deletion)."""
        self._states.pop(did, None)

    # -- creating ------------------------------------------------------------------------------

    async def create_repo(self, tx: SequenceTransaction, did: str, key: Keypair) -> CommitResult:
        """Write the first (empty) commit of a new repository inside ``tx`` and sequence it."""
        tree = MST.empty()
        rev = next_rev(None)
        commit = sign_commit(did, tree.root_cid, rev, key)
        commit_cid, commit_block = commit.to_block()
        blocks = [(commit_cid, commit_block), *tree.new_blocks()]
        await self.store.create_root(tx.conn, RepoRoot(did, commit_cid, commit.data, rev))
        await self.store.put_blocks(tx.conn, did, rev, blocks)
        await self._sequence_commit(tx, did, commit_cid, commit, None, blocks, [], None)
        return CommitResult(commit_cid, rev, [])

    # -- writing -------------------------------------------------------------------------------

    async def apply_writes(
        self,
        did: str,
        writes: Sequence[WriteRequest],
        *,
        validate: bool | None = None,
        swap_commit: CID | None = None,
    ) -> CommitResult:
        """Apply ``writes`` atomically as one commit (com.atproto.repo.applyWrites)."""
        prepared = [prepare_write(self.lexicons, w, validate) for w in writes]
        if len({w.path for w in prepared}) != len(prepared):
            raise InvalidRecordError("more than one write to the same record")
        async with self._lock(did):
            state = await self._state(did)
            key = await self.signing_key(did)
            if swap_commit is not None and swap_commit != state.root.commit_cid:
                raise InvalidSwapError(f"Commit was at {state.root.commit_cid.encode()}")
            fetch = await self._fetcher(did)
            tree, ops = await run_filled(
                lambda: self._apply(state.tree, prepared), state.blocks, fetch
            )
            new_nodes = await run_filled(lambda: dict(tree.new_blocks()), state.blocks, fetch)
            removed = await run_filled(lambda: removed_nodes(state.tree, tree), state.blocks, fetch)
            rev = next_rev(state.root.rev)
            commit = sign_commit(did, tree.root_cid, rev, key)
            commit_cid, commit_block = commit.to_block()
            state.blocks.update(new_nodes.items())
            persisted = tree.persisted()
            proof = await run_filled(
                lambda: commit_proof_blocks(state.blocks, commit.data, ops, persisted),
                state.blocks,
                fetch,
            )
            records = [
                (w.cid, w.block) for w in prepared if w.cid is not None and w.block is not None
            ]
            stored = [(commit_cid, commit_block), *new_nodes.items(), *records]
            slice_blocks = dict(stored)
            slice_blocks.update(proof)
            gone = [op.prev for op in ops if op.prev is not None]
            replaced = [w for w, op in zip(prepared, ops, strict=True) if op.prev is not None]
            new_root = RepoRoot(did, commit_cid, commit.data, rev)

            write = CommitWrite(
                root=new_root,
                expected=state.root.commit_cid,
                blocks=stored,
                upserts=[(w.collection, w.rkey, w.cid) for w in prepared if w.cid is not None],
                deletes=[(w.collection, w.rkey) for w in prepared if w.action == "delete"],
                gone=[*removed, *gone, state.root.commit_cid],
                indexed_at=parse_tid(rev)[0],
            )

            async def work(tx: SequenceTransaction) -> None:
                if not await self.store.apply_commit(tx.conn, write, tx.later):
                    raise InvalidSwapError("repository changed concurrently; retry")
                if self.blob_hook is not None:
                    await self.blob_hook(tx, did, prepared, replaced)
                await self._sequence_commit(
                    tx,
                    did,
                    commit_cid,
                    commit,
                    state.root.rev,
                    list(slice_blocks.items()),
                    ops,
                    state.root.data_cid,
                )

            try:
                await self.sequencer.commit(work)
            except InvalidSwapError:
                self.forget(did)
                raise
            except HeadMovedError:
                self.forget(did)
                raise InvalidSwapError("repository changed concurrently; retry") from None
            state.root = new_root
            state.tree = persisted
            if state.tree.cached_nodes > MAX_CACHED_NODES:
                self.forget(did)
        results = [
            WriteResult(
                w.action,
                f"at://{did}/{w.collection}/{w.rkey}",
                w.cid,
                w.validation_status,
            )
            for w in prepared
        ]
        return CommitResult(commit_cid, rev, results)

    @staticmethod
    def _apply(tree: MST, writes: Sequence[PreparedWrite]) -> tuple[MST, list[RepoOp]]:
        ops: list[RepoOp] = []
        for w in writes:
            current = tree.get(w.path)
            if w.swap_record is not NO_SWAP and current != w.swap_record:
                found = current.encode() if current is not None else "null"
                raise InvalidSwapError(f"Record was at {found}")
            if w.action == "create":
                if current is not None:
                    raise InvalidRecordError(f"Record already exists at {w.path}")
                assert w.cid is not None
                tree = tree.put(w.path, w.cid)
                ops.append(RepoOp("create", w.path, w.cid))
            elif w.action == "update":
                if current is None:
                    raise InvalidRecordError(f"Could not find record to update: {w.path}")
                assert w.cid is not None
                tree = tree.put(w.path, w.cid)
                ops.append(RepoOp("update", w.path, w.cid, current))
            else:
                if current is None:
                    raise InvalidRecordError(f"Could not find record to delete: {w.path}")
                tree = tree.delete(w.path)
                ops.append(RepoOp("delete", w.path, None, current))
        return tree, ops

    async def _sequence_commit(
        self,
        tx: SequenceTransaction,
        did: str,
        commit_cid: CID,
        commit: Commit,
        since: str | None,
        blocks: list[tuple[CID, bytes]],
        ops: list[RepoOp],
        prev_data: CID | None,
    ) -> None:
        car = car_bytes(commit_cid, blocks)
        too_big = len(car) > MAX_COMMIT_BLOCKS_BYTES
        time = now_iso()

        def frame(seq: int) -> bytes:
            body: dict[str, Any] = commit_body(
                seq=seq,
                repo=did,
                commit=commit_cid,
                rev=commit.rev,
                since=since,
                blocks=b"" if too_big else car,
                ops=[] if too_big else ops,
                prev_data=prev_data,
                time=time,
                too_big=too_big,
            )
            return MessageFrame(body, "#commit").to_bytes()

        await tx.sequence(did, "#commit", frame)

    # -- reading -------------------------------------------------------------------------------

    async def head(self, did: str) -> RepoRoot:
        """The current head of ``did``'s repo."""
        state = self._states.get(did)
        if state is not None:
            return state.root
        async with self.db.read() as conn:
            root = await self.store.get_root(conn, did)
        if root is None:
            raise RepoNotFoundError(f"Could not find repo for DID: {did}")
        return root
