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
# a record key of "." or ".." is not allowed (https://atproto.com/specs/record-key)
_RAW_KEY_RE = re.compile(rb"[a-zA-Z0-9_~\-:.]+/(?!\.\.?\Z)[a-zA-Z0-9_~\-:.]+")
_raw_key_match = _RAW_KEY_RE.fullmatch
# every key of a node at once, joined with newlines (which no key may contain)
_RAW_KEY_LINES_RE = re.compile(
    rb"(?:[a-zA-Z0-9_~\-:.]+/(?!\.\.?(?:\n|\Z))[a-zA-Z0-9_~\-:.]+(?:\n(?!\Z)|\Z))*"
)
# key height by the first byte of its SHA-256 (255: a zero byte, look further)
_HEIGHT_BY_FIRST_BYTE = bytes([255] + [(8 - b.bit_length()) // 2 for b in range(1, 256)])
_sha256 = hashlib.sha256
_DAG_CBOR_PREFIX = CID.CIDV1_DAG_CBOR_SHA256_32_PFX


class InvalidMstError(ValueError):
    """An MST node or key breaks the repository spec."""


def key_height(key: str | bytes) -> int:
    """Layer of a key: leading zero bits of its SHA-256 counted in pairs."""
    raw = key.encode() if isinstance(key, str) else key
    return _digest_height(_sha256(raw).digest())


def _digest_height(digest: bytes) -> int:
    if digest[0] >= 0x40:  # three keys in four: no leading zero pair
        return 0
    word = int.from_bytes(digest[:8], "big")
    if word:
        return (64 - word.bit_length()) // 2
    # astronomically rare: fall back to the whole digest
    value = int.from_bytes(digest, "big")
    return (256 - value.bit_length()) // 2


def _is_valid_raw_key(raw: bytes) -> bool:
    return len(raw) <= MAX_KEY_BYTES and _raw_key_match(raw) is not None


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
    if isinstance(a, str) or isinstance(b, str):
        return next((i for i in range(n) if a[i] != b[i]), n)
    # the highest differing bit of the XOR of both prefixes marks the first differing byte
    diff = int.from_bytes(a[:n], "big") ^ int.from_bytes(b[:n], "big")
    return n - 1 - (diff.bit_length() - 1) // 8 if diff else n


class Node:
    """An immutable MST node. ``rights[i]`` is the subtree after ``keys[i]``; ``left`` before."""

    __slots__ = ("_block", "_cid", "_gap", "_source", "keys", "layer", "left", "rights", "vals")

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
        self._source: Node | None = None
        self._gap = 0

    def child_at(self, gap: int) -> Child:
        """The subtree in gap ``gap`` (0 = before the first key)."""
        return self.left if gap == 0 else self.rights[gap - 1]

    def with_child(self, gap: int, child: Child) -> Node:
        """A copy with the subtree in gap ``gap`` replaced."""
        if gap == 0:
            node = Node(self.layer, child, self.keys, self.vals, self.rights)
        else:
            rights = self.rights.copy()
            rights[gap - 1] = child
            node = Node(self.layer, self.left, self.keys, self.vals, rights)
        if self._block is not None:
            node._source = self
            node._gap = gap
        return node

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
            self._block = self._patched_source() or cbor.encode(self.to_data())
            self._source = None
        return self._block

    def _patched_source(self) -> bytes | None:
        """The block of the node this one was derived from, with the one changed child CID
        swapped in place: both CIDs encode to the same 36 bytes, so the result is the
        canonical encoding. None when that does not apply (a subtree added or removed)."""
        source = self._source
        if source is None or source._block is None:
            return None
        old = _child_cid(source.child_at(self._gap))
        new = _child_cid(self.child_at(self._gap))
        if old is None or new is None:
            return None
        block = source._block
        old_raw = old.cid_bytes
        at = block.find(old_raw)
        if at < 0 or len(new.cid_bytes) != len(old_raw) or block.find(old_raw, at + 1) >= 0:
            return None
        return block[:at] + new.cid_bytes + block[at + len(old_raw) :]

    def to_data(self) -> dict[str, Any]:
        """The node in data-model form, with keys prefix-compressed."""
        entries = []
        prev = b""
        vals = self.vals
        rights = self.rights
        for i, key in enumerate(self.keys):
            raw = key.encode()
            p = common_prefix_len(prev, raw)
            right = rights[i]
            if isinstance(right, Node):
                right = right.cid
            entries.append({"k": raw[p:], "p": p, "t": right, "v": vals[i]})
            prev = raw
        return {"e": entries, "l": _child_cid(self.left)}


def _child_cid(child: Child) -> CID | None:
    if child is None or isinstance(child, CID):
        return child
    return child.cid


def _entry_types_problem(p: object, suffix: object) -> str:
    if type(p) is not int:
        return f"bad prefix length {p!r}"
    if type(suffix) is not bytes:
        return "'k' must be bytes"
    return "'v' must be a CID"


def _prefix_problem(p: int, prev: bytes) -> str:
    if 0 < p <= len(prev):
        return "prefix compression is not maximal"
    return f"bad prefix length {p!r}"


def decode_node(cid: CID, block: bytes, layer: int | None) -> Node:
    """Decode and check a node block; ``layer`` is the layer the parent implies (None: root)."""
    try:
        data = cbor.decode(block)
    except cbor.CborDecodeError as exc:
        raise InvalidMstError(f"node {cid.encode()}: {exc}") from exc
    if type(data) is not dict or len(data) != 2 or "e" not in data or "l" not in data:
        raise InvalidMstError(f"node {cid.encode()}: must be a map with exactly 'l' and 'e'")
    left = data["l"]
    entries = data["e"]
    if left is not None and not (type(left) is CID and _is_node_cid(left)):
        raise InvalidMstError(f"node {cid.encode()}: 'l' must be null or a node CID")
    if not isinstance(entries, list):
        raise InvalidMstError(f"node {cid.encode()}: 'e' must be a list")
    raws: list[bytes] = []
    vals: list[CID] = []
    rights: list[Child] = []
    prev = b""
    node_layer = -1
    sha256 = _sha256
    heights = _HEIGHT_BY_FIRST_BYTE
    for entry in entries:
        if type(entry) is not dict or len(entry) != 4:
            raise InvalidMstError(f"node {cid.encode()}: entry must have exactly k, p, t, v")
        try:
            p, suffix, val, right = entry["p"], entry["k"], entry["v"], entry["t"]
        except KeyError:
            raise InvalidMstError(f"node {cid.encode()}: entry must have k, p, t, v") from None
        if type(p) is not int or type(suffix) is not bytes or type(val) is not CID:
            raise InvalidMstError(f"node {cid.encode()}: {_entry_types_problem(p, suffix)}")
        if p:
            # maximal compression: the suffix must not start with the next byte of prev
            if not 0 < p <= len(prev) or (p < len(prev) and suffix and suffix[0] == prev[p]):
                raise InvalidMstError(f"node {cid.encode()}: {_prefix_problem(p, prev)}")
            raw = prev[:p] + suffix
        else:
            raw = suffix
        if raw <= prev:
            raise InvalidMstError(f"node {cid.encode()}: keys out of order at {raw!r}")
        if right is not None and (
            type(right) is not CID
            or len(right.cid_bytes) != 36
            or right.cid_bytes[:4] != _DAG_CBOR_PREFIX
        ):
            raise InvalidMstError(f"node {cid.encode()}: 't' must be null or a node CID")
        digest = sha256(raw).digest()
        height = heights[digest[0]]
        if height != node_layer:
            if height == 255:
                height = _digest_height(digest)
            if node_layer < 0:
                node_layer = height
            elif height != node_layer:
                raise InvalidMstError(f"node {cid.encode()}: keys of different heights")
        raws.append(raw)
        vals.append(val)
        rights.append(right)
        prev = raw
    keys: list[str] = []
    if raws:
        joined = b"\n".join(raws)
        if _RAW_KEY_LINES_RE.fullmatch(joined) is None or max(map(len, raws)) > MAX_KEY_BYTES:
            bad = next(r for r in raws if not _is_valid_raw_key(r))
            raise InvalidMstError(f"node {cid.encode()}: invalid key {bad!r}")
        keys = joined.decode("ascii").split("\n")
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
