"""Whole-repository CAR export and verified import.

https://atproto.com/specs/repository#car-file-serialization: the root of a repo export is the
signed commit; the archive holds the commit, every MST node and every record block. Import trusts
nothing: block hashes, the commit signature, the MST structure (rebuilt from its leaves and
compared with the commit's data root) and every record block are checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sonet.crypto import PublicKey
from sonet.repo import cbor
from sonet.repo.blockstore import BlockSource, MemoryBlockstore, MissingBlockError
from sonet.repo.car import CarError, read_car, write_car
from sonet.repo.cid import CID
from sonet.repo.commit import Commit, InvalidCommitError, decode_commit, verify_commit
from sonet.repo.gc_pause import gc_paused
from sonet.repo.mst import MST
from sonet.repo.mst_node import InvalidMstError, Node

__all__ = ["InvalidRepoError", "VerifiedRepo", "export_repo", "verify_repo_car"]

MAX_REPO_BLOCKS = 5_000_000
MAX_REPO_BYTES = 4 * 1024 * 1024 * 1024


class InvalidRepoError(ValueError):
    """A repository CAR fails verification."""


@dataclass(frozen=True)
class VerifiedRepo:
    """A repository that passed every check, with its records in key order."""

    commit_cid: CID
    commit: Commit
    records: dict[str, CID]
    blocks: dict[CID, bytes]

    def record_bytes(self, path: str) -> bytes:
        """The DAG-CBOR block of the record at ``path``."""
        return self.blocks[self.records[path]]


def export_repo(commit_cid: CID, source: BlockSource) -> Iterator[bytes]:
    """Stream a repo CAR: the commit, then MST nodes in pre-order, each record after its key."""
    commit_block = source.get(commit_cid)
    if commit_block is None:
        raise MissingBlockError(commit_cid)
    commit = decode_commit(commit_block)
    return write_car(commit_cid, _export_blocks(commit_cid, commit_block, commit.data, source))


def _export_blocks(
    commit_cid: CID, commit_block: bytes, data: CID, source: BlockSource
) -> Iterator[tuple[CID, bytes]]:
    yield commit_cid, commit_block
    tree = MST.load(source, data)
    root = tree.root_node()
    stack: list[Node | tuple[CID, bytes]] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            yield item
            continue
        yield item.cid, item.block
        later: list[Node | tuple[CID, bytes]] = []
        if item.left is not None:
            later.append(tree.load_child(item.left, item.layer - 1))
        for value, right in zip(item.vals, item.rights, strict=True):
            block = source.get(value)
            if block is None:
                raise MissingBlockError(value)
            later.append((value, block))
            if right is not None:
                later.append(tree.load_child(right, item.layer - 1))
        stack.extend(reversed(later))


def verify_repo_car(
    data: bytes, *, did: str | None = None, key: PublicKey | None = None
) -> VerifiedRepo:
    """Parse and fully verify a repository CAR; ``did``/``key`` pin the expected signer."""
    with gc_paused():
        return _verify_repo_car(data, did, key)


def _verify_repo_car(data: bytes, did: str | None, key: PublicKey | None) -> VerifiedRepo:
    try:
        car = read_car(data, max_blocks=MAX_REPO_BLOCKS, max_total_size=MAX_REPO_BYTES)
        commit_cid = car.root
    except CarError as exc:
        raise InvalidRepoError(f"bad CAR: {exc}") from exc
    commit_block = car.blocks.get(commit_cid)
    if commit_block is None:
        raise InvalidRepoError("the CAR root (commit) block is missing")
    try:
        commit = decode_commit(commit_block)
    except InvalidCommitError as exc:
        raise InvalidRepoError(str(exc)) from exc
    if did is not None and commit.did != did:
        raise InvalidRepoError(f"commit is for {commit.did}, expected {did}")
    if key is not None and not verify_commit(commit, key):
        raise InvalidRepoError("commit signature does not verify")
    store = MemoryBlockstore(car.blocks)
    try:
        tree = MST.load(store, commit.data)
        records = _walk_checked(tree)
        rebuilt = MST.from_items(records.items())
    except (InvalidMstError, MissingBlockError) as exc:
        raise InvalidRepoError(f"invalid MST: {exc}") from exc
    if rebuilt.root_cid != commit.data:
        raise InvalidRepoError("MST is not in canonical form (rebuilt root differs)")
    for path, cid in records.items():
        block = car.blocks.get(cid)
        if block is None:
            raise InvalidRepoError(f"record block for {path} is missing")
        if not cid.is_cidv1_dag_cbor_sha256_32():
            raise InvalidRepoError(f"record {path} is not a dag-cbor CID")
        try:
            if not isinstance(cbor.decode(block), dict):
                raise InvalidRepoError(f"record {path} is not a map")
        except cbor.CborDecodeError as exc:
            raise InvalidRepoError(f"record {path} is not valid DAG-CBOR: {exc}") from exc
    return VerifiedRepo(commit_cid, commit, records, car.blocks)


def _walk_checked(tree: MST) -> dict[str, CID]:
    """All leaves in order, checking that keys increase across the whole tree."""
    records: dict[str, CID] = {}
    last = ""
    for path, cid in tree.items():
        if path <= last:
            raise InvalidMstError(f"MST keys out of order at {path!r}")
        records[path] = cid
        last = path
    return records
