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

__all__ = ["MstDiff", "diff_trees", "removed_nodes"]


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
    """Compare ``old`` (None: an empty tree) with ``new``.

    Both trees are walked one layer at a time from the top. Subtrees are compared by CID before
    they are loaded, so a changed node costs one decode and its unchanged siblings none.
    """
    result = MstDiff()
    old_front: list[_Pending] = []
    if old is not None:
        old_root = old.root_node()
        old_front.append((old, old_root, old_root.layer))
    new_root = new.root_node()
    new_front: list[_Pending] = [(new, new_root, new_root.layer)]
    old_leaves: dict[str, CID] = {}
    new_leaves: dict[str, CID] = {}
    layer = max(layer for _, _, layer in old_front + new_front)
    while layer >= 0 and (old_front or new_front):
        old_here, old_front = _split_layer(old_front, layer)
        new_here, new_front = _split_layer(new_front, layer)
        for cid in old_here.keys() & new_here.keys():
            del old_here[cid], new_here[cid]
        for cid, (tree, child) in old_here.items():
            result.removed_nodes.add(cid)
            _expand(tree, tree.load_child(child, layer), old_leaves, old_front)
        for cid, (tree, child) in new_here.items():
            node = tree.load_child(child, layer)
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


_Pending = tuple[MST, Node | CID, int]
"""A subtree still to compare: its tree, the node or its CID, and its layer."""


def _split_layer(
    front: list[_Pending], layer: int
) -> tuple[dict[CID, tuple[MST, Node | CID]], list[_Pending]]:
    """The subtrees of ``front`` at ``layer`` by CID, and the rest."""
    here: dict[CID, tuple[MST, Node | CID]] = {}
    rest: list[_Pending] = []
    for tree, child, at in front:
        if at == layer:
            here[child.cid if isinstance(child, Node) else child] = (tree, child)
        else:
            rest.append((tree, child, at))
    return here, rest


def _expand(tree: MST, node: Node, leaves: dict[str, CID], front: list[_Pending]) -> None:
    leaves.update(zip(node.keys, node.vals, strict=True))
    below = node.layer - 1
    if node.left is not None:
        front.append((tree, node.left, below))
    front.extend((tree, child, below) for child in node.rights if child is not None)


def removed_nodes(old: MST, new: MST) -> set[CID]:
    """CIDs of the nodes of ``old`` that ``new`` no longer has, when ``new`` was derived from
    ``old`` by :meth:`MST.put`/:meth:`MST.delete` (its unchanged subtrees are ``old``'s own).

    Where the new tree's in-memory part links to a stored subtree, that whole subtree is kept; a
    node CID occurs once in a tree, so walking ``old`` from its root and stopping at those links
    visits only the replaced nodes and their direct children.
    """
    old_root = old.root_cid
    if old.root_child is None:  # the empty tree: its one (empty) node goes unless still empty
        return set() if new.root_cid == old_root else {old_root}
    kept = _new_side(new)
    removed: set[CID] = set()
    if old_root in kept:
        return removed
    stack: list[tuple[Child, int | None]] = [(old.root_child, None)]
    while stack:
        child, layer = stack.pop()
        node = old.load_child(child, layer)
        removed.add(node.cid)
        below = node.layer - 1
        for sub in (node.left, *node.rights):
            if sub is not None and (sub.cid if isinstance(sub, Node) else sub) not in kept:
                stack.append((sub, below))
    return removed


def _new_side(tree: MST) -> set[CID]:
    """CIDs of ``tree``'s in-memory nodes and of the stored subtrees they link to."""
    root = tree.root_child
    if not isinstance(root, Node):
        return set() if root is None else {root}
    cids: set[CID] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        cids.add(node.cid)
        for sub in (node.left, *node.rights):
            if isinstance(sub, Node):
                stack.append(sub)
            elif sub is not None:
                cids.add(sub)
    return cids
