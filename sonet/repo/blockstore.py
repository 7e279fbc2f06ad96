"""Block sources: where MST nodes and records are read from by CID."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from sonet.repo.cid import CID


class MissingBlockError(KeyError):
    """A block needed to walk a tree is not available."""

    def __init__(self, cid: CID) -> None:
        super().__init__(f"missing block {cid.encode()}")
        self.cid = cid

    def __str__(self) -> str:
        return str(self.args[0])


class BlockSource(Protocol):
    """Anything that can return the bytes of a block by CID (``None`` when absent)."""

    def get(self, cid: CID, /) -> bytes | None: ...


class MemoryBlockstore:
    """A dictionary of blocks; also usable as an overlay in front of another source."""

    __slots__ = ("blocks", "fallback")

    def __init__(
        self,
        blocks: Mapping[CID, bytes] | Iterable[tuple[CID, bytes]] = (),
        fallback: BlockSource | None = None,
    ) -> None:
        self.blocks: dict[CID, bytes] = dict(blocks)
        self.fallback = fallback

    def get(self, cid: CID, /) -> bytes | None:
        """Return the block, looking in the fallback source when not held here."""
        block = self.blocks.get(cid)
        if block is None and self.fallback is not None:
            return self.fallback.get(cid)
        return block

    def put(self, cid: CID, block: bytes) -> None:
        """Store one block."""
        self.blocks[cid] = block

    def update(self, blocks: Iterable[tuple[CID, bytes]]) -> None:
        """Store many blocks."""
        self.blocks.update(blocks)


class RecordingBlockSource:
    """Wraps a source and remembers every block read through it (to assemble proofs)."""

    __slots__ = ("inner", "read")

    def __init__(self, inner: BlockSource) -> None:
        self.inner = inner
        self.read: dict[CID, bytes] = {}

    def get(self, cid: CID, /) -> bytes | None:
        """Return the block from the wrapped source and record it."""
        block = self.inner.get(cid)
        if block is not None:
            self.read[cid] = block
        return block
