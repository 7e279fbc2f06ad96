"""Differences between two Merkle Search Trees, skipping every subtree they share.

Used to build commit diffs (https://atproto.com/specs/repository#repository-diffs) and to turn a
``#sync`` or a re-downloaded repo into record operations. Subtrees with the same CID are equal, and
a node CID occurs at most once in a tree, so walking both trees one layer at a time and dropping
the CIDs both layers hold visits only what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sonet.repo.cid import CID
from sonet.repo.mst import MST
from sonet.repo.mst_node import Child, Node

__all__ = ["MstDiff", "diff_trees"]


@dataclass
class MstDiff:
    """Record-level and block-level changes from an old tree to a new one."""

    creates: dict[str, CID] = field(default_factory=dict)
    updates: dict[str, tuple[CID, CID]] = field(default_factory=dict)
    """path -> (old cid, new cid)"""
    deletes: dict[str, CID] = field(default_factory=dict)
    new_nodes: dict[CID, bytes] = field(default_factory=dict)
    """MST node blocks of the new tree that the old tree does not have."""
    removed_nodes: set[CID] = field(default_factory=set)
    """MST node CIDs of the old tree that the new tree no longer has."""


def diff_trees(old: MST | None, new: MST) -> MstDiff:
    """Compare ``old`` (None: an empty tree) with ``new``."""
    result = MstDiff()
    old_front: list[tuple[MST, Node]] = [] if old is None else [(old, old.root_node())]
    new_front: list[tuple[MST, Node]] = [(new, new.root_node())]
    old_leaves: dict[str, CID] = {}
    new_leaves: dict[str, CID] = {}
    layer = max(n.layer for _, n in old_front + new_front)
    while layer >= 0 and (old_front or new_front):
        old_here = {n.cid: (t, n) for t, n in old_front if n.layer == layer}
        new_here = {n.cid: (t, n) for t, n in new_front if n.layer == layer}
        old_front = [(t, n) for t, n in old_front if n.layer != layer]
        new_front = [(t, n) for t, n in new_front if n.layer != layer]
        for cid in old_here.keys() & new_here.keys():
            del old_here[cid], new_here[cid]
        for cid, (tree, node) in old_here.items():
            result.removed_nodes.add(cid)
            _expand(tree, node, old_leaves, old_front)
        for cid, (tree, node) in new_here.items():
            result.new_nodes[cid] = node.block
            _expand(tree, node, new_leaves, new_front)
        layer -= 1
    for key, cid in new_leaves.items():
        before = old_leaves.pop(key, None)
        if before is None:
            result.creates[key] = cid
        elif before != cid:
            result.updates[key] = (before, cid)
    result.deletes = old_leaves
    return result


def _expand(tree: MST, node: Node, leaves: dict[str, CID], front: list[tuple[MST, Node]]) -> None:
    leaves.update(zip(node.keys, node.vals, strict=True))
    children: list[Child] = [node.left, *node.rights]
    for child in children:
        if child is not None:
            front.append((tree, tree.load_child(child, node.layer - 1)))
