"""MST proofs: the blocks that show a key's presence or absence, and sync 1.1 commit proofs.

https://atproto.com/specs/sync#commit-validation: a ``#commit`` carries its operations (with the
previous CID of each changed record) and enough MST blocks to apply the operations in reverse to
the new tree. Inverting them must give back ``prevData``, the previous commit's data root, which
lets a relay verify a commit without holding the repository.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from sonet.repo.blockstore import BlockSource, MissingBlockError, RecordingBlockSource
from sonet.repo.cid import CID
from sonet.repo.mst import MST
from sonet.repo.mst_node import InvalidMstError, Node

__all__ = [
    "ProofError",
    "RepoOp",
    "commit_proof_blocks",
    "invert_ops",
    "key_proof_blocks",
    "verify_commit_proof",
]

Action = Literal["create", "update", "delete"]


class ProofError(ValueError):
    """A commit's blocks do not prove its operations against ``prevData``."""


@dataclass(frozen=True, slots=True)
class RepoOp:
    """One record operation of a commit: ``cid`` is the new CID, ``prev`` the old one."""

    action: Action
    path: str
    cid: CID | None
    prev: CID | None = None


def invert_ops(tree: MST, ops: Sequence[RepoOp]) -> MST:
    """Undo ``ops`` on ``tree`` (the tree after the commit), checking each against it."""
    seen: set[str] = set()
    for op in ops:
        if op.path in seen:
            raise ProofError(f"more than one operation on {op.path}")
        seen.add(op.path)
    for op in reversed(ops):
        current = tree.get(op.path)
        if op.action == "create":
            if op.cid is None or current != op.cid:
                raise ProofError(f"create of {op.path} does not match the tree")
            if op.prev is not None:
                raise ProofError(f"create of {op.path} has a prev")
            tree = tree.delete(op.path)
        elif op.action == "update":
            if op.cid is None or current != op.cid or op.prev is None:
                raise ProofError(f"update of {op.path} does not match the tree")
            tree = tree.put(op.path, op.prev)
        elif op.action == "delete":
            if current is not None or op.cid is not None or op.prev is None:
                raise ProofError(f"delete of {op.path} does not match the tree")
            tree = tree.put(op.path, op.prev)
        else:
            raise ProofError(f"unknown action {op.action!r}")
    return tree


def verify_commit_proof(
    blocks: BlockSource, new_root: CID, ops: Sequence[RepoOp], prev_data: CID
) -> None:
    """Check that inverting ``ops`` on the tree at ``new_root`` gives ``prev_data``."""
    try:
        before = invert_ops(MST.load(blocks, new_root), ops)
        root = before.root_cid
    except MissingBlockError as exc:
        raise ProofError(f"commit proof is missing a block: {exc}") from exc
    except (InvalidMstError, KeyError) as exc:
        raise ProofError(f"commit proof is invalid: {exc}") from exc
    if root != prev_data:
        raise ProofError(
            f"inverted tree root {root.encode()} does not match prevData {prev_data.encode()}"
        )


def _record_reads(store: BlockSource, root: CID, work: Callable[[MST], object]) -> dict[CID, bytes]:
    recorder = RecordingBlockSource(store)
    tree = MST.load(recorder, root)
    tree.root_node()
    work(tree)
    return recorder.read


def commit_proof_blocks(
    store: BlockSource, new_root: CID, ops: Sequence[RepoOp], tree: MST | None = None
) -> dict[CID, bytes]:
    """The MST blocks that prove ``ops`` against the tree at ``new_root``.

    This is what our inverter reads plus each key's covering proof (the search path and the
    nearest subtrees on either side), which is what the reference implementation sends, so that
    verifiers whose merge step reads more eagerly than ours still find every block they need.
    ``tree`` (the persisted tree at ``new_root``) lets its decoded nodes be reused.
    """

    def work(tree: MST) -> None:
        for op in ops:
            _cover(tree, tree.root_node(), op.path)
        invert_ops(tree, ops)  # reads every block inverting needs; its root is not wanted

    if tree is not None and tree.root_cid == new_root:
        tracked = tree.tracking()
        assert tracked.touched is not None
        work(tracked)
        tracked.root_node()
        return tracked.touched
    return _record_reads(store, new_root, work)


def _cover(tree: MST, root: Node, key: str) -> None:
    """Read the spines just left and just right of ``key``'s position, from the root down."""
    for toward_right in (False, True):
        node = root
        while True:
            i = bisect_left(node.keys, key)
            found = i < len(node.keys) and node.keys[i] == key
            child = node.rights[i] if found and toward_right else node.child_at(i)
            if child is None:
                break
            node = tree.load_child(child, node.layer - 1)


def key_proof_blocks(store: BlockSource, root: CID, key: str) -> dict[CID, bytes]:
    """The MST blocks on the path to ``key``: they prove its value or its absence."""
    return _record_reads(store, root, lambda tree: tree.get(key))
