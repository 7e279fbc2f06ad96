"""Upstream ``subscribeRepos`` messages, parsed strictly into typed events.

https://atproto.com/specs/event-stream#framing and the ``com.atproto.sync.subscribeRepos`` lexicon:
a relay reads ``#commit``, ``#sync``, ``#identity``, ``#account`` and ``#info`` messages and error
frames. Only the lexicon's fields are kept (unknown fields are not passed through, as in the
reference relay); a field of the wrong type makes the whole message malformed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from sonet.repo.cid import CID
from sonet.repo.mst_proof import RepoOp
from sonet.syntax.did import is_valid_did
from sonet.xrpc.frames import ErrorFrame, FrameError, decode_frame

__all__ = [
    "MAX_FRAME_BYTES",
    "AccountEvent",
    "CommitEvent",
    "IdentityEvent",
    "InfoEvent",
    "MalformedEventError",
    "SyncEvent",
    "UnknownEvent",
    "UpstreamEvent",
    "event_did",
    "event_seq",
    "event_type",
    "parse_frame",
    "parse_ops",
]

MAX_FRAME_BYTES: Final = 5_000_000
"""Largest upstream WebSocket message (the reference relay's limit)."""
_ACTIONS: Final = frozenset({"create", "update", "delete"})


class MalformedEventError(ValueError):
    """A frame or message body that does not match the lexicon."""


class CommitEvent(NamedTuple):
    """A ``#commit`` (``ops`` still raw: they are checked by :func:`parse_ops`). The two repo
    events are named tuples: built once per firehose message, where a frozen dataclass's
    ``__init__`` costs several times more."""

    seq: int
    repo: str
    commit: CID
    rev: str
    since: str | None
    blocks: bytes
    ops: list[Any]
    prev_data: CID | None
    time: str
    too_big: bool
    rebase: bool


class SyncEvent(NamedTuple):
    """A ``#sync``: the account's current commit, as a CAR of one block."""

    seq: int
    did: str
    blocks: bytes
    rev: str
    time: str


@dataclass(frozen=True, slots=True)
class IdentityEvent:
    """An ``#identity``: the DID document or handle may have changed."""

    seq: int
    did: str
    time: str
    handle: str | None


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """An ``#account``: hosting status changed."""

    seq: int
    did: str
    time: str
    active: bool
    status: str | None


@dataclass(frozen=True, slots=True)
class InfoEvent:
    """An ``#info`` message (``OutdatedCursor``...)."""

    name: str
    message: str | None


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """A message type this relay does not know (ignored, like the reference relay)."""

    type: str | None


UpstreamEvent = (
    CommitEvent | SyncEvent | IdentityEvent | AccountEvent | InfoEvent | UnknownEvent | ErrorFrame
)


def _get(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedEventError(f"field {name!r} is missing or of the wrong type")
    return value


def _optional(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if value is not None and not isinstance(value, kind):
        raise MalformedEventError(f"field {name!r} is of the wrong type")
    return value


def _seq(body: dict[str, Any]) -> int:
    seq: int = _get(body, "seq", int)
    if seq < 0:
        raise MalformedEventError("seq must not be negative")
    return seq


def _did(body: dict[str, Any], name: str) -> str:
    did: str = _get(body, name, str)
    if not is_valid_did(did):
        raise MalformedEventError(f"field {name!r} is not a DID")
    return did


def _commit(body: dict[str, Any]) -> CommitEvent:
    # the usual case checked in one expression (decoded values have exact types); anything
    # else goes through the field-by-field checks, which name the offending field
    get = body.get
    seq, repo, commit, rev = get("seq"), get("repo"), get("commit"), get("rev")
    since, blocks, ops, prev_data = get("since"), get("blocks"), get("ops"), get("prevData")
    time, too_big, rebase = get("time"), get("tooBig"), get("rebase")
    if (
        type(seq) is int
        and seq >= 0
        and type(repo) is str
        and type(commit) is CID
        and type(rev) is str
        and (since is None or type(since) is str)
        and type(blocks) is bytes
        and type(ops) is list
        and (prev_data is None or type(prev_data) is CID)
        and type(time) is str
        and (too_big is None or type(too_big) is bool)
        and (rebase is None or type(rebase) is bool)
        and is_valid_did(repo)
    ):
        return CommitEvent(
            seq, repo, commit, rev, since, blocks, ops, prev_data, time, bool(too_big), bool(rebase)
        )
    return _checked_commit(body)


def _checked_commit(body: dict[str, Any]) -> CommitEvent:
    ops = _get(body, "ops", list)
    return CommitEvent(
        seq=_seq(body),
        repo=_did(body, "repo"),
        commit=_get(body, "commit", CID),
        rev=_get(body, "rev", str),
        since=_optional(body, "since", str),
        blocks=_get(body, "blocks", bytes),
        ops=ops,
        prev_data=_optional(body, "prevData", CID),
        time=_get(body, "time", str),
        too_big=bool(_optional(body, "tooBig", bool)),
        rebase=bool(_optional(body, "rebase", bool)),
    )


def _parse_body(type_name: str | None, body: dict[str, Any]) -> UpstreamEvent:
    if type_name == "#commit":
        return _commit(body)
    if type_name == "#sync":
        return SyncEvent(
            _seq(body),
            _did(body, "did"),
            _get(body, "blocks", bytes),
            _get(body, "rev", str),
            _get(body, "time", str),
        )
    if type_name == "#identity":
        return IdentityEvent(
            _seq(body), _did(body, "did"), _get(body, "time", str), _optional(body, "handle", str)
        )
    if type_name == "#account":
        return AccountEvent(
            _seq(body),
            _did(body, "did"),
            _get(body, "time", str),
            _get(body, "active", bool),
            _optional(body, "status", str),
        )
    if type_name == "#info":
        return InfoEvent(_get(body, "name", str), _optional(body, "message", str))
    return UnknownEvent(type_name)


def parse_frame(data: bytes) -> UpstreamEvent:
    """Decode one WebSocket message of a ``subscribeRepos`` stream."""
    try:
        frame = decode_frame(data, max_size=MAX_FRAME_BYTES)
    except FrameError as exc:
        raise MalformedEventError(str(exc)) from None
    if isinstance(frame, ErrorFrame):
        return frame
    return _parse_body(frame.type, frame.body)


def parse_ops(raw_ops: list[Any]) -> list[RepoOp]:
    """The ``#repoOp`` list of a commit, checked against the lexicon."""
    ops: list[RepoOp] = []
    for raw in raw_ops:
        if not isinstance(raw, dict):
            raise MalformedEventError("each op must be a map")
        action = raw.get("action")
        path = raw.get("path")
        cid = raw.get("cid")
        prev = raw.get("prev")
        if action not in _ACTIONS or not isinstance(path, str):
            raise MalformedEventError("op action or path is invalid")
        if "cid" not in raw or not (cid is None or isinstance(cid, CID)):
            raise MalformedEventError("op cid must be present (a link or null)")
        if prev is not None and not isinstance(prev, CID):
            raise MalformedEventError("op prev must be a link")
        ops.append(RepoOp(action, path, cid, prev))
    return ops


def event_seq(event: UpstreamEvent) -> int | None:
    """The upstream sequence number of a sequenced message."""
    if isinstance(event, CommitEvent | SyncEvent | IdentityEvent | AccountEvent):
        return event.seq
    return None


def event_did(event: UpstreamEvent) -> str | None:
    """The account a message is about."""
    if isinstance(event, CommitEvent):
        return event.repo
    if isinstance(event, SyncEvent | IdentityEvent | AccountEvent):
        return event.did
    return None


_TYPES: Final = {
    CommitEvent: "#commit",
    SyncEvent: "#sync",
    IdentityEvent: "#identity",
    AccountEvent: "#account",
    InfoEvent: "#info",
}


def event_type(event: UpstreamEvent) -> str:
    """The message type (``#commit``...; ``#unknown`` for others)."""
    return _TYPES.get(type(event), "#unknown")
