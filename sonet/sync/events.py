"""Bodies of ``com.atproto.sync.subscribeRepos`` messages, built exactly as the lexicon defines them.

https://atproto.com/specs/sync#firehose: ``#commit`` (with the CAR slice of new blocks, ops with
``cid`` and ``prev``, and ``prevData`` for sync 1.1 proofs), ``#sync``, ``#identity``,
``#account`` and ``#info``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sonet.repo.cid import CID
from sonet.repo.mst_proof import RepoOp

__all__ = [
    "account_body",
    "commit_body",
    "identity_body",
    "info_body",
    "op_to_data",
    "sync_body",
]


def op_to_data(op: RepoOp) -> dict[str, Any]:
    """A ``#repoOp``: ``cid`` is always present (null for deletes), ``prev`` when there was one."""
    out: dict[str, Any] = {"action": op.action, "path": op.path, "cid": op.cid}
    if op.prev is not None:
        out["prev"] = op.prev
    return out


def commit_body(
    *,
    seq: int,
    repo: str,
    commit: CID,
    rev: str,
    since: str | None,
    blocks: bytes,
    ops: Sequence[RepoOp],
    prev_data: CID | None,
    time: str,
    too_big: bool = False,
) -> dict[str, Any]:
    """A ``#commit`` message body."""
    body: dict[str, Any] = {
        "seq": seq,
        "rebase": False,
        "tooBig": too_big,
        "repo": repo,
        "commit": commit,
        "rev": rev,
        "since": since,
        "blocks": blocks,
        "ops": [op_to_data(op) for op in ops],
        "blobs": [],
        "time": time,
    }
    if prev_data is not None:
        body["prevData"] = prev_data
    return body


def sync_body(*, seq: int, did: str, blocks: bytes, rev: str, time: str) -> dict[str, Any]:
    """A ``#sync`` body: the repo's current commit, telling consumers to resynchronise."""
    return {"seq": seq, "did": did, "blocks": blocks, "rev": rev, "time": time}


def identity_body(*, seq: int, did: str, time: str, handle: str | None = None) -> dict[str, Any]:
    """An ``#identity`` body: the DID document or handle may have changed."""
    body: dict[str, Any] = {"seq": seq, "did": did, "time": time}
    if handle is not None:
        body["handle"] = handle
    return body


def account_body(
    *, seq: int, did: str, time: str, active: bool, status: str | None = None
) -> dict[str, Any]:
    """An ``#account`` body: hosting status (``takendown``, ``suspended``, ``deleted``,
    ``deactivated``...) when not active."""
    body: dict[str, Any] = {"seq": seq, "did": did, "time": time, "active": active}
    if status is not None:
        body["status"] = status
    return body


def info_body(name: str, message: str | None = None) -> dict[str, Any]:
    """An ``#info`` body such as ``OutdatedCursor``."""
    body: dict[str, Any] = {"name": name}
    if message is not None:
        body["message"] = message
    return body
