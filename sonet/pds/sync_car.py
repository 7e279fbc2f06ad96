"""CAR exports served by ``com.atproto.sync``: a whole repo (streamed), a record proof, blocks.

https://atproto.com/specs/repository#car-file-serialization: a repo export's root is the signed
commit, which comes first; the MST nodes and records follow. https://atproto.com/specs/sync:
``getRepo`` with ``since`` sends only blocks written after that revision, and ``getRecord`` sends
the commit, the MST nodes on the path to the key (proving the record's presence or absence) and
the record. Reads happen in one snapshot so a concurrent commit can not tear an export.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack
from typing import Final

from sonet.pds.block_fill import run_filled
from sonet.pds.errors import RepoNotFoundError
from sonet.repo.blockstore import MemoryBlockstore
from sonet.repo.car import car_bytes, write_car
from sonet.repo.car_varint import encode_varint
from sonet.repo.cid import CID
from sonet.repo.mst import MST
from sonet.repo.mst_proof import key_proof_blocks
from sonet.storage.database import Database
from sonet.storage.pds_repo_store import RepoRoot, RepoStore

__all__ = ["CAR_CHUNK", "open_repo_car", "record_proof_car"]

CAR_CHUNK: Final = 256 * 1024
"""Blocks are written to the response in chunks of about this many bytes."""


def car_sections(blocks: Iterable[tuple[bytes, bytes]]) -> bytes:
    """CARv1 sections (``varint | cid | block``) of blocks given with raw CID bytes."""
    parts: list[bytes] = []
    append = parts.append
    for cid, block in blocks:
        append(encode_varint(len(cid) + len(block)))
        append(cid)
        append(block)
    return b"".join(parts)


async def open_repo_car(
    db: Database, store: RepoStore, did: str, since: str | None = None
) -> tuple[RepoRoot, AsyncIterator[bytes]]:
    """The head of ``did``'s repo and a stream of its CAR (commit first, then every block, or
    the blocks newer than rev ``since``). Raises :class:`RepoNotFoundError` before streaming.

    The stream holds a read transaction until it is exhausted or closed.
    """
    stack = AsyncExitStack()
    conn = await stack.enter_async_context(db.read())
    try:
        await store.snapshot(conn)
        root = await store.get_root(conn, did)
        if root is None:
            raise RepoNotFoundError(f"Could not find repo for DID: {did}")
        commit = await store.get_blocks(conn, did, [root.commit_cid])
    except BaseException:
        await stack.aclose()
        raise
    commit_raw = bytes(root.commit_cid.cid_bytes)

    async def chunks() -> AsyncIterator[bytes]:
        async with stack:
            first = [(root.commit_cid, commit[root.commit_cid])] if commit else []
            yield b"".join(write_car(root.commit_cid, first))
            pending: list[bytes] = []
            size = 0
            async for part in store.iter_raw_blocks(conn, did, since):
                data = car_sections(b for b in part if b[0] != commit_raw)
                pending.append(data)
                size += len(data)
                if size >= CAR_CHUNK:
                    yield b"".join(pending)
                    pending.clear()
                    size = 0
            if pending:
                yield b"".join(pending)

    return root, chunks()


async def record_proof_car(db: Database, store: RepoStore, did: str, path: str) -> bytes:
    """The CAR proving the record at ``path`` (or its absence) under ``did``'s current commit."""
    async with db.read() as conn:
        await store.snapshot(conn)
        root = await store.get_root(conn, did)
        if root is None:
            raise RepoNotFoundError(f"Could not find repo for DID: {did}")
        cache = MemoryBlockstore()

        async def fetch(cids: Iterable[CID]) -> dict[CID, bytes]:
            return await store.get_blocks(conn, did, cids)

        proof = await run_filled(lambda: key_proof_blocks(cache, root.data_cid, path), cache, fetch)
        value = await run_filled(lambda: MST.load(cache, root.data_cid).get(path), cache, fetch)
        wanted = [root.commit_cid] if value is None else [root.commit_cid, value]
        found = await store.get_blocks(conn, did, wanted)
    blocks = [(cid, found[cid]) for cid in wanted if cid in found]
    blocks[1:1] = proof.items()
    return car_bytes(root.commit_cid, blocks)
