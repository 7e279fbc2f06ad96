"""The Merkle Search Tree: a persistent (copy-on-write) map from repo paths to record CIDs.

https://atproto.com/specs/repository#mst-structure. Every change returns a new :class:`MST`
sharing unchanged subtrees with the old one; subtrees not yet needed stay as CIDs and are loaded
lazily from a :class:`~sonet.repo.blockstore.BlockSource`. The shape of the tree depends only on
its keys, so any sequence of changes that ends in the same key set gives the same root CID.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator

from sonet.repo.blockstore import BlockSource, MemoryBlockstore, MissingBlockError
from sonet.repo.cid import CID
from sonet.repo.gc_pause import gc_paused
from sonet.repo.mst_node import Child, InvalidMstError, Node, decode_node, is_valid_key, key_height

__all__ = ["EMPTY_NODE", "MST"]

EMPTY_NODE = Node(0, None, [], [], [])
"""The root of an empty tree (its CID is the well-known empty-tree CID)."""


class MST:
    """An immutable MST handle: a root plus the block source its unloaded subtrees come from."""

    __slots__ = ("_cache", "_root", "store", "touched")

    def __init__(
        self,
        store: BlockSource,
        root: Child,
        cache: dict[CID, Node] | None = None,
        touched: dict[CID, bytes] | None = None,
    ):
        self.store = store
        self._root = root
        self._cache: dict[CID, Node] = {} if cache is None else cache
        self.touched = touched
        """When set, every stored node this tree (or a tree derived from it) reads is
        recorded here with its block: the blocks a proof of the work done must carry."""

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def empty(cls, store: BlockSource | None = None) -> MST:
        """An empty tree."""
        return cls(MemoryBlockstore() if store is None else store, None)

    @classmethod
    def load(cls, store: BlockSource, root: CID) -> MST:
        """A tree whose root block is ``root`` in ``store`` (loaded lazily)."""
        return cls(store, root)

    @classmethod
    def from_items(cls, items: Iterable[tuple[str, CID]], store: BlockSource | None = None) -> MST:
        """Build a tree directly from ``(key, cid)`` pairs (sorted or not; keys unique)."""
        with gc_paused():
            return cls._from_items(items, store)

    @classmethod
    def _from_items(cls, items: Iterable[tuple[str, CID]], store: BlockSource | None) -> MST:
        pairs = sorted(items)
        for i, (key, _) in enumerate(pairs):
            if not is_valid_key(key):
                raise InvalidMstError(f"invalid MST key {key!r}")
            if i and pairs[i - 1][0] == key:
                raise InvalidMstError(f"duplicate MST key {key!r}")
        keys = [k for k, _ in pairs]
        vals = [v for _, v in pairs]
        heights = [key_height(k) for k in keys]
        root = _build(keys, vals, heights, 0, len(keys), max(heights, default=0))
        return cls(MemoryBlockstore() if store is None else store, root)

    # -- reading -----------------------------------------------------------------------------

    def load_child(self, child: Child, layer: int | None) -> Node:
        if isinstance(child, Node):
            return child
        if child is None:
            return EMPTY_NODE
        node = self._cache.get(child)
        if node is None:
            block = self.store.get(child)
            if block is None:
                raise MissingBlockError(child)
            node = decode_node(child, block, layer)
            self._cache[child] = node
        elif layer is not None and node.layer != layer and node.keys:
            raise InvalidMstError(f"node {child.encode()} reused at a different layer")
        if self.touched is not None:
            self.touched[child] = node.block
        return node

    @property
    def root_child(self) -> Child:
        """The root as held: a node in memory, a CID still to load, or None (empty)."""
        return self._root

    def root_node(self) -> Node:
        """The root node (loading it if needed)."""
        return self.load_child(self._root, None)

    @property
    def root_cid(self) -> CID:
        """CID of the root node; an empty tree has the CID of the empty node."""
        if isinstance(self._root, CID):
            return self._root
        return self.root_node().cid

    @property
    def layer(self) -> int:
        """Layer of the root node."""
        return self.root_node().layer

    def get(self, key: str) -> CID | None:
        """The CID stored under ``key``, or None."""
        node = self.root_node()
        while True:
            keys = node.keys
            i = bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                return node.vals[i]
            child = node.child_at(i)
            if child is None:
                return None
            node = self.load_child(child, node.layer - 1)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def items(self, start: str = "", end: str | None = None) -> Iterator[tuple[str, CID]]:
        """``(key, cid)`` pairs with ``start <= key < end`` in key order."""
        stack: list[Node | tuple[str, CID]] = [self.root_node()]
        while stack:
            item = stack.pop()
            if not isinstance(item, Node):
                yield item
                continue
            keys = item.keys
            lo = bisect_left(keys, start) if start else 0
            hi = len(keys) if end is None else bisect_left(keys, end)
            layer = item.layer - 1
            # push in reverse: gap hi, key hi-1, gap hi-1, ..., key lo, gap lo
            for i in range(hi, lo - 1, -1):
                child = item.left if i == 0 else item.rights[i - 1]
                if child is not None:
                    stack.append(self.load_child(child, layer))
                if i > lo:
                    stack.append((keys[i - 1], item.vals[i - 1]))

    def __iter__(self) -> Iterator[tuple[str, CID]]:
        return self.items()

    def __len__(self) -> int:
        return sum(1 for _ in self.items())

    def nodes(self) -> Iterator[Node]:
        """Every node of the tree, parents before children (loads the whole tree)."""
        stack = [self.root_node()]
        while stack:
            node = stack.pop()
            yield node
            for child in reversed([node.left, *node.rights]):
                if child is not None:
                    stack.append(self.load_child(child, node.layer - 1))

    def new_blocks(self) -> Iterator[tuple[CID, bytes]]:
        """Blocks of nodes created in memory (not yet in the block source)."""
        root = self._root if self._root is not None else EMPTY_NODE
        for node in _in_memory(root):
            yield node.cid, node.block

    def persisted(self) -> MST:
        """This tree with every in-memory node turned into a cached, CID-linked node.

        Call once the blocks of :meth:`new_blocks` are stored: the result reads the same, reuses
        the decoded nodes, and its own :meth:`new_blocks` starts empty.
        """
        for node in list(_in_memory(self._root)):
            self._cache[node.cid] = Node(
                node.layer,
                _link(node.left),
                node.keys,
                node.vals,
                [_link(r) for r in node.rights],
                node.cid,
                node.block,
            )
        root = self._root if not isinstance(self._root, Node) else self._root.cid
        return MST(self.store, root, self._cache)

    @property
    def cached_nodes(self) -> int:
        """How many decoded nodes this tree's cache holds."""
        return len(self._cache)

    # -- changing ------------------------------------------------------------------------------

    def _derive(self, root: Child) -> MST:
        return MST(self.store, root, self._cache, self.touched)

    def tracking(self) -> MST:
        """The same tree, recording the stored nodes it reads in :attr:`touched`."""
        return MST(self.store, self._root, self._cache, {})

    def put(self, key: str, value: CID) -> MST:
        """A tree with ``key`` set to ``value`` (inserted or updated)."""
        if not is_valid_key(key):
            raise InvalidMstError(f"invalid MST key {key!r}")
        height = key_height(key)
        root = self.root_node()
        if not root.keys and root.left is None:
            return self._derive(Node(height, None, [key], [value], [None]))
        while root.layer < height:
            root = Node(root.layer + 1, root, [], [], [])
        return self._derive(self._insert(root, key, value, height))

    def delete(self, key: str) -> MST:
        """A tree without ``key``; raises KeyError when it is absent."""
        root: Node | None = self._delete(self.root_node(), key)
        while root is not None and not root.keys and root.left is not None:
            root = self.load_child(root.left, root.layer - 1)
        return self._derive(root)

    def _insert(self, node: Node, key: str, value: CID, height: int) -> Node:
        i = bisect_left(node.keys, key)
        if i < len(node.keys) and node.keys[i] == key:
            vals = node.vals.copy()
            vals[i] = value
            return Node(node.layer, node.left, node.keys, vals, node.rights)
        gap_child = node.child_at(i)
        if height == node.layer:
            lo, hi = self._split(gap_child, key, node.layer - 1)
            keys = node.keys.copy()
            vals = node.vals.copy()
            rights = node.rights.copy()
            keys.insert(i, key)
            vals.insert(i, value)
            rights.insert(i, hi)
            left = node.left
            if i == 0:
                left = lo
            else:
                rights[i - 1] = lo
            return Node(node.layer, left, keys, vals, rights)
        if gap_child is None:
            sub = _chain(node.layer - 1, key, value, height)
        else:
            sub = self._insert(self.load_child(gap_child, node.layer - 1), key, value, height)
        return node.with_child(i, sub)

    def _split(self, child: Child, key: str, layer: int) -> tuple[Child, Child]:
        """Split a subtree into the parts below and above ``key`` (which it does not hold)."""
        if child is None:
            return None, None
        node = self.load_child(child, layer)
        i = bisect_left(node.keys, key)
        sub_lo, sub_hi = self._split(node.child_at(i), key, layer - 1)
        if i == 0:
            lo = _trim(Node(layer, sub_lo, [], [], []))
        else:
            rights = node.rights[:i]
            rights[-1] = sub_lo
            lo = Node(layer, node.left, node.keys[:i], node.vals[:i], rights)
        hi = _trim(Node(layer, sub_hi, node.keys[i:], node.vals[i:], node.rights[i:]))
        return lo, hi

    def _delete(self, node: Node, key: str) -> Node | None:
        i = bisect_left(node.keys, key)
        if i < len(node.keys) and node.keys[i] == key:
            merged = self._merge(node.child_at(i), node.rights[i], node.layer - 1)
            keys = node.keys[:i] + node.keys[i + 1 :]
            vals = node.vals[:i] + node.vals[i + 1 :]
            rights = node.rights[:i] + node.rights[i + 1 :]
            left = node.left
            if i == 0:
                left = merged
            else:
                rights[i - 1] = merged
            return _trim(Node(node.layer, left, keys, vals, rights))
        child = node.child_at(i)
        if child is None:
            raise KeyError(key)
        sub = self._delete(self.load_child(child, node.layer - 1), key)
        return _trim(node.with_child(i, sub))

    def _merge(self, a: Child, b: Child, layer: int) -> Child:
        """Join two adjacent subtrees of the same layer (all keys of ``a`` below ``b``'s)."""
        if a is None:
            return b
        if b is None:
            return a
        na = self.load_child(a, layer)
        nb = self.load_child(b, layer)
        a_last = na.rights[-1] if na.keys else na.left
        middle = self._merge(a_last, nb.left, layer - 1)
        if na.keys:
            rights = [*na.rights[:-1], middle, *nb.rights]
            return Node(layer, na.left, na.keys + nb.keys, na.vals + nb.vals, rights)
        return Node(layer, middle, nb.keys, nb.vals, nb.rights)


def _in_memory(child: Child) -> Iterator[Node]:
    stack = [child]
    while stack:
        node = stack.pop()
        if isinstance(node, Node):
            yield node
            stack.append(node.left)
            stack.extend(node.rights)


def _link(child: Child) -> CID | None:
    return child.cid if isinstance(child, Node) else child


def _trim(node: Node) -> Node | None:
    return None if not node.keys and node.left is None else node


def _chain(layer: int, key: str, value: CID, height: int) -> Node:
    """A new subtree at ``layer`` holding one key of ``height`` (empty nodes above it)."""
    node = Node(height, None, [key], [value], [None])
    for above in range(height + 1, layer + 1):
        node = Node(above, node, [], [], [])
    return node


def _build(
    keys: list[str], vals: list[CID], heights: list[int], lo: int, hi: int, layer: int
) -> Node | None:
    """Build the subtree at ``layer`` for ``keys[lo:hi]`` (all of height <= layer)."""
    if lo >= hi:
        return None
    if layer == 0:
        return Node(0, None, keys[lo:hi], vals[lo:hi], [None] * (hi - lo))
    here = [i for i in range(lo, hi) if heights[i] == layer]
    if not here:
        return Node(layer, _build(keys, vals, heights, lo, hi, layer - 1), [], [], [])
    below = layer - 1
    left = _build(keys, vals, heights, lo, here[0], below)
    rights: list[Child] = []
    for j, i in enumerate(here):
        nxt = here[j + 1] if j + 1 < len(here) else hi
        rights.append(_build(keys, vals, heights, i + 1, nxt, below))
    return Node(layer, left, [keys[i] for i in here], [vals[i] for i in here], rights)
