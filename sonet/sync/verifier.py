"""Stateless checks of ``#commit`` and ``#sync`` messages: everything but account state.

https://atproto.com/specs/sync#commit-validation: the CAR slice is parsed with limits; the commit
block (the CAR root, the message's ``commit``) must be a valid commit for the message's repo and
rev, signed by the account's current key, with a rev not in the future. In strict mode
(https://atproto.com/specs/sync, "sync 1.1") the message must carry blocks, no deprecated ``tooBig``/``rebase`` flags, a record block for
every created or updated record, and inverting its operations on the new tree must give
``prevData`` when it has one (whether it must have one depends on the account's state, which the
caller checks). Lenient mode (legacy hosts) reports those failures as warnings and accepts the
message. These functions run in worker processes: inputs and outputs are plain picklable values.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Final, NamedTuple

from sonet.crypto import InvalidKeyError, PublicKey, parse_did_key
from sonet.repo.blockstore import MemoryBlockstore
from sonet.repo.car import CarError, read_car
from sonet.repo.cid import CID
from sonet.repo.commit import Commit, InvalidCommitError, decode_commit, verify_commit
from sonet.repo.mst_proof import ProofError, verify_commit_proof
from sonet.sync.messages import (
    CommitEvent,
    MalformedEventError,
    SyncEvent,
    parse_frame,
    parse_ops,
)
from sonet.syntax.datetime import is_valid_datetime
from sonet.syntax.tid import is_valid_tid, parse_tid

__all__ = [
    "MAX_COMMIT_BLOCKS",
    "MAX_COMMIT_OPS",
    "MAX_SYNC_BLOCKS",
    "DropReason",
    "VerificationError",
    "VerifyJob",
    "VerifyOutcome",
    "check_future_rev",
    "repo_head_of",
    "verify_batch",
    "verify_commit_event",
    "verify_job",
    "verify_sync_event",
]

MAX_COMMIT_BLOCKS: Final = 2_000_000
"""Largest ``blocks`` of a ``#commit`` (the lexicon's maxLength)."""
MAX_COMMIT_OPS: Final = 200
MAX_SYNC_BLOCKS: Final = 10_000
"""Largest ``blocks`` of a ``#sync`` (the lexicon's maxLength: one commit block)."""
MAX_CAR_BLOCKS: Final = 10_000
_KEY_CACHE_SIZE: Final = 50_000


class DropReason(StrEnum):
    """Why an upstream event was dropped (counted per host)."""

    MALFORMED_FRAME = "malformed-frame"
    OUT_OF_ORDER_SEQ = "out-of-order-seq"
    IDENTITY_UNAVAILABLE = "identity-unavailable"
    ACCOUNT_HOST_MISMATCH = "account-host-mismatch"
    INACTIVE_ACCOUNT = "inactive-account"
    REV_OUT_OF_ORDER = "rev-out-of-order"
    FUTURE_REV = "future-rev"
    TOO_MANY_OPS = "too-many-ops"
    BLOCKS_TOO_LARGE = "blocks-too-large"
    BAD_CAR = "bad-car"
    BAD_COMMIT = "bad-commit"
    BAD_SIGNATURE = "bad-signature"
    MISSING_BLOCKS = "missing-blocks"
    MISSING_PREV_DATA = "missing-prev-data"
    DEPRECATED_FLAG = "deprecated-flag"
    BAD_OPS = "bad-ops"
    MISSING_RECORD = "missing-record-block"
    BAD_PROOF = "bad-proof"
    BAD_FIELD = "bad-field"
    INTERNAL = "internal-error"


class VerificationError(ValueError):
    """An event failed a check; ``reason`` names which."""

    def __init__(self, reason: DropReason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message


class VerifyJob(NamedTuple):
    """One message to check: its frame, the account's ``did:key`` and the policy."""

    frame: bytes
    key: str
    strict: bool
    future_tolerance_us: int


class VerifyOutcome(NamedTuple):
    """Result: ``reason`` None when accepted; ``commit_cid`` and ``data_cid`` (the commit's MST
    root) in bytes form; ``warnings``: strict-mode failures let through in lenient mode."""

    reason: str | None
    message: str | None
    commit_cid: bytes | None = None
    data_cid: bytes | None = None
    warnings: tuple[str, ...] = ()


_keys: dict[str, PublicKey] = {}


def _public_key(did_key: str) -> PublicKey:
    key = _keys.get(did_key)
    if key is None:
        try:
            key = parse_did_key(did_key)
        except InvalidKeyError as exc:
            raise VerificationError(DropReason.IDENTITY_UNAVAILABLE, f"bad key: {exc}") from None
        if len(_keys) >= _KEY_CACHE_SIZE:
            _keys.clear()
        _keys[did_key] = key
    return key


def check_future_rev(rev: str, tolerance_us: int, now_us: int | None = None) -> None:
    """Refuse a TID rev whose timestamp is more than ``tolerance_us`` ahead of now."""
    if not is_valid_tid(rev):
        return
    now = time.time_ns() // 1000 if now_us is None else now_us
    if parse_tid(rev)[0] > now + tolerance_us:
        raise VerificationError(DropReason.FUTURE_REV, f"rev {rev} is in the future")


def _load_commit(
    blocks: bytes, max_size: int, expected: CID | None
) -> tuple[Commit, CID, dict[CID, bytes]]:
    try:
        car = read_car(blocks, max_blocks=MAX_CAR_BLOCKS, max_total_size=max_size)
    except CarError as exc:
        raise VerificationError(DropReason.BAD_CAR, str(exc)) from None
    if not car.roots:
        raise VerificationError(DropReason.BAD_CAR, "CAR has no root")
    root = car.roots[0]
    if expected is not None and root != expected:
        raise VerificationError(DropReason.BAD_COMMIT, "CAR root is not the message's commit")
    block = car.blocks.get(root)
    if block is None:
        raise VerificationError(DropReason.BAD_COMMIT, "commit block is not in the CAR")
    try:
        return decode_commit(block), root, car.blocks
    except InvalidCommitError as exc:
        raise VerificationError(DropReason.BAD_COMMIT, str(exc)) from None


def _check_commit_object(commit: Commit, did: str, rev: str, job: VerifyJob) -> None:
    if commit.did != did:
        raise VerificationError(DropReason.BAD_COMMIT, "commit did does not match the message")
    if commit.rev != rev:
        raise VerificationError(DropReason.BAD_COMMIT, "commit rev does not match the message")
    check_future_rev(commit.rev, job.future_tolerance_us)
    if not verify_commit(commit, _public_key(job.key)):
        raise VerificationError(
            DropReason.BAD_SIGNATURE, f"signature does not verify with {job.key}"
        )


def _strict_checks(
    event: CommitEvent, commit: Commit, blocks: dict[CID, bytes], job: VerifyJob
) -> None:
    if event.too_big:
        raise VerificationError(DropReason.DEPRECATED_FLAG, "deprecated tooBig flag set")
    if event.rebase:
        raise VerificationError(DropReason.DEPRECATED_FLAG, "deprecated rebase flag set")
    if not is_valid_datetime(event.time):
        raise VerificationError(DropReason.BAD_FIELD, "time is not a datetime")
    if event.since is not None and not is_valid_tid(event.since):
        raise VerificationError(DropReason.BAD_FIELD, "since is not a TID")
    try:
        ops = parse_ops(event.ops)
    except MalformedEventError as exc:
        raise VerificationError(DropReason.BAD_OPS, str(exc)) from None
    for op in ops:
        if op.cid is not None and op.cid not in blocks:
            raise VerificationError(DropReason.MISSING_RECORD, f"no block for {op.path}")
    if event.prev_data is None:
        return  # only allowed for an account's first commit: the caller knows whether it is
    try:
        verify_commit_proof(MemoryBlockstore(blocks), commit.data, ops, event.prev_data)
    except ProofError as exc:
        raise VerificationError(DropReason.BAD_PROOF, str(exc)) from None


def verify_commit_event(event: CommitEvent, job: VerifyJob) -> VerifyOutcome:
    """Check a ``#commit``; raises :class:`VerificationError`."""
    if len(event.blocks) > MAX_COMMIT_BLOCKS:
        raise VerificationError(DropReason.BLOCKS_TOO_LARGE, f"{len(event.blocks)} bytes")
    if len(event.ops) > MAX_COMMIT_OPS:
        raise VerificationError(DropReason.TOO_MANY_OPS, f"{len(event.ops)} ops")
    if not event.blocks:
        raise VerificationError(DropReason.MISSING_BLOCKS, "commit carries no blocks")
    commit, root, blocks = _load_commit(event.blocks, MAX_COMMIT_BLOCKS, event.commit)
    _check_commit_object(commit, event.repo, event.rev, job)
    warnings: tuple[str, ...] = ()
    try:
        _strict_checks(event, commit, blocks, job)
    except VerificationError as exc:
        if job.strict:
            raise
        warnings = (exc.reason.value,)
    return VerifyOutcome(None, None, bytes(root), bytes(commit.data), warnings)


def verify_sync_event(event: SyncEvent, job: VerifyJob) -> VerifyOutcome:
    """Check a ``#sync``; raises :class:`VerificationError`."""
    if len(event.blocks) > MAX_SYNC_BLOCKS:
        raise VerificationError(DropReason.BLOCKS_TOO_LARGE, f"{len(event.blocks)} bytes")
    commit, root, _ = _load_commit(event.blocks, MAX_SYNC_BLOCKS, None)
    _check_commit_object(commit, event.did, event.rev, job)
    if not is_valid_datetime(event.time):
        raise VerificationError(DropReason.BAD_FIELD, "time is not a datetime")
    return VerifyOutcome(None, None, bytes(root), bytes(commit.data))


def verify_job(job: VerifyJob) -> VerifyOutcome:
    """Check one job's message; never raises."""
    try:
        event = parse_frame(job.frame)
        if isinstance(event, CommitEvent):
            return verify_commit_event(event, job)
        if isinstance(event, SyncEvent):
            return verify_sync_event(event, job)
        return VerifyOutcome(DropReason.MALFORMED_FRAME.value, "not a #commit or #sync")
    except VerificationError as exc:
        return VerifyOutcome(exc.reason.value, exc.message[:500])
    except MalformedEventError as exc:
        return VerifyOutcome(DropReason.MALFORMED_FRAME.value, str(exc)[:500])
    except Exception as exc:  # a bug must drop the event, never the worker
        return VerifyOutcome(DropReason.INTERNAL.value, repr(exc)[:500])


def verify_batch(jobs: list[VerifyJob]) -> list[VerifyOutcome]:
    """Check a batch of jobs (the unit of work sent to a worker process)."""
    return [verify_job(job) for job in jobs]


def repo_head_of(frame: bytes) -> tuple[str, str, CID, CID] | None:
    """``(did, rev, commit CID, MST root)`` of a ``#commit`` or ``#sync`` frame already verified
    (the relay re-reads its own event log after a crash); None for other frames."""
    try:
        event = parse_frame(frame)
        if isinstance(event, CommitEvent):
            commit, root, _ = _load_commit(event.blocks, MAX_COMMIT_BLOCKS, event.commit)
            return event.repo, event.rev, root, commit.data
        if isinstance(event, SyncEvent):
            commit, root, _ = _load_commit(event.blocks, MAX_SYNC_BLOCKS, None)
            return event.did, event.rev, root, commit.data
    except (MalformedEventError, VerificationError):
        return None
    return None
