"""One node of the Merkle Search Tree: key heights, key rules and the node block format.

https://atproto.com/specs/repository#mst-structure: a key's height is the number of leading zero
bits of SHA-256(key) divided by two (fanout 4); every key of a node has the node's height ("layer");
a node is ``{"l": CID | null, "e": [{"p": prefix len, "k": key suffix, "v": CID, "t": CID | null}]}``
with each key compressed against the previous key of the same node.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Union

from sonet.repo import cbor
from sonet.repo.cid import CID, cid_for_cbor

__all__ = [
    "Child",
    "InvalidMstError",
    "Node",
    "common_prefix_len",
    "decode_node",
    "is_valid_key",
    "key_height",
]

Child = Union["Node", CID, None]
"""A subtree pointer: a node held in memory, a CID still to load, or nothing."""

MAX_KEY_BYTES = 1024
_KEY_RE = re.compile(r"^[a-zA-Z0-9_~\-:.]+/[a-zA-Z0-9_~\-:.]+$")
_RAW_KEY_RE = re.compile(rb"[a-zA-Z0-9_~\-:.]+/[a-zA-Z0-9_~\-:.]+")
_DAG_CBOR_PREFIX = CID.CIDV1_DAG_CBOR_SHA256_32_PFX


class InvalidMstError(ValueError):
    """An MST node or key breaks the repository spec."""


def key_height(key: str | bytes) -> int:
    """Layer of a key: leading zero bits of its SHA-256 counted in pairs."""
    raw = key.encode() if isinstance(key, str) else key
    digest = hashlib.sha256(raw).digest()
    word = int.from_bytes(digest[:8], "big")
    if word:
        return (64 - word.bit_length()) // 2
    # astronomically rare: fall back to the whole digest
    value = int.from_bytes(digest, "big")
    return (256 - value.bit_length()) // 2


def _is_valid_raw_key(raw: bytes) -> bool:
    return (
        len(raw) <= MAX_KEY_BYTES
        and _RAW_KEY_RE.fullmatch(raw) is not None
        and not raw.endswith((b"/.", b"/.."))
    )


def _is_node_cid(cid: CID) -> bool:
    raw = cid.cid_bytes
    return len(raw) == 36 and raw.startswith(_DAG_CBOR_PREFIX)


def is_valid_key(key: str) -> bool:
    """True when ``key`` is a repo path ``<collection>/<record-key>`` the MST accepts."""
    if len(key) > MAX_KEY_BYTES or not _KEY_RE.match(key):
        return False
    rkey = key.partition("/")[2]
    return rkey not in (".", "..")


def common_prefix_len(a: bytes | str, b: bytes | str) -> int:
    """Length of the shared prefix of two keys (for entry compression)."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo] and a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


class Node:
    """An immutable MST node. ``rights[i]`` is the subtree after ``keys[i]``; ``left`` before."""

    __slots__ = ("_block", "_cid", "keys", "layer", "left", "rights", "vals")

    def __init__(
        self,
        layer: int,
        left: Child,
        keys: list[str],
        vals: list[CID],
        rights: list[Child],
        cid: CID | None = None,
        block: bytes | None = None,
    ) -> None:
        self.layer = layer
        self.left = left
        self.keys = keys
        self.vals = vals
        self.rights = rights
        self._cid = cid
        self._block = block

    def child_at(self, gap: int) -> Child:
        """The subtree in gap ``gap`` (0 = before the first key)."""
        return self.left if gap == 0 else self.rights[gap - 1]

    def with_child(self, gap: int, child: Child) -> Node:
        """A copy with the subtree in gap ``gap`` replaced."""
        if gap == 0:
            return Node(self.layer, child, self.keys, self.vals, self.rights)
        rights = self.rights.copy()
        rights[gap - 1] = child
        return Node(self.layer, self.left, self.keys, self.vals, rights)

    @property
    def is_empty(self) -> bool:
        """True for a node with neither entries nor subtree."""
        return not self.keys and self.left is None

    @property
    def cid(self) -> CID:
        """CID of this node's block (computed once, children first)."""
        if self._cid is None:
            self._cid = cid_for_cbor(self.block)
        return self._cid

    @property
    def block(self) -> bytes:
        """The DAG-CBOR block of this node."""
        if self._block is None:
            self._block = cbor.encode(self.to_data())
        return self._block

    def to_data(self) -> dict[str, Any]:
        """The node in data-model form, with keys prefix-compressed."""
        entries = []
        prev = b""
        for key, val, right in zip(self.keys, self.vals, self.rights, strict=True):
            raw = key.encode()
            p = common_prefix_len(prev, raw)
            entries.append({"k": raw[p:], "p": p, "t": _child_cid(right), "v": val})
            prev = raw
        return {"e": entries, "l": _child_cid(self.left)}


def _child_cid(child: Child) -> CID | None:
    if child is None or isinstance(child, CID):
        return child
    return child.cid


def decode_node(cid: CID, block: bytes, layer: int | None) -> Node:
    """Decode and check a node block; ``layer`` is the layer the parent implies (None: root)."""
    try:
        data = cbor.decode(block)
    except cbor.CborDecodeError as exc:
        raise InvalidMstError(f"node {cid.encode()}: {exc}") from exc
    if not isinstance(data, dict) or set(data) != {"e", "l"}:
        raise InvalidMstError(f"node {cid.encode()}: must be a map with exactly 'l' and 'e'")
    left = data["l"]
    entries = data["e"]
    if left is not None and not (type(left) is CID and _is_node_cid(left)):
        raise InvalidMstError(f"node {cid.encode()}: 'l' must be null or a node CID")
    if not isinstance(entries, list):
        raise InvalidMstError(f"node {cid.encode()}: 'e' must be a list")
    keys: list[str] = []
    vals: list[CID] = []
    rights: list[Child] = []
    prev = b""
    node_layer = -1
    for entry in entries:
        if type(entry) is not dict or len(entry) != 4:
            raise InvalidMstError(f"node {cid.encode()}: entry must have exactly k, p, t, v")
        try:
            p, suffix, val, right = entry["p"], entry["k"], entry["v"], entry["t"]
        except KeyError:
            raise InvalidMstError(f"node {cid.encode()}: entry must have k, p, t, v") from None
        if type(p) is not int or not 0 <= p <= len(prev):
            raise InvalidMstError(f"node {cid.encode()}: bad prefix length {p!r}")
        if type(suffix) is not bytes:
            raise InvalidMstError(f"node {cid.encode()}: 'k' must be bytes")
        # maximal compression: the suffix must not start with the next byte of prev
        if p < len(prev) and suffix and suffix[0] == prev[p]:
            raise InvalidMstError(f"node {cid.encode()}: prefix compression is not maximal")
        raw = prev[:p] + suffix
        if not _is_valid_raw_key(raw):
            raise InvalidMstError(f"node {cid.encode()}: invalid key {raw!r}")
        if raw <= prev:
            raise InvalidMstError(f"node {cid.encode()}: keys out of order at {raw!r}")
        if type(val) is not CID:
            raise InvalidMstError(f"node {cid.encode()}: 'v' must be a CID")
        if right is not None and not (type(right) is CID and _is_node_cid(right)):
            raise InvalidMstError(f"node {cid.encode()}: 't' must be null or a node CID")
        height = key_height(raw)
        if height != node_layer:
            if node_layer >= 0:
                raise InvalidMstError(f"node {cid.encode()}: keys of different heights")
            node_layer = height
        keys.append(raw.decode("ascii"))
        vals.append(val)
        rights.append(right)
        prev = raw
    if keys:
        if layer is not None and node_layer != layer:
            raise InvalidMstError(
                f"node {cid.encode()}: keys at height {node_layer} where layer {layer} was expected"
            )
    elif layer is None:
        if left is not None:
            raise InvalidMstError(f"node {cid.encode()}: untrimmed root (no entries, one subtree)")
        node_layer = 0
    else:
        if left is None:
            raise InvalidMstError(f"node {cid.encode()}: empty node inside the tree")
        node_layer = layer
    if node_layer == 0 and (left is not None or any(r is not None for r in rights)):
        raise InvalidMstError(f"node {cid.encode()}: layer-0 node with subtrees")
    return Node(node_layer, left, keys, vals, rights, cid, block)
