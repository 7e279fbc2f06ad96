"""A DID's operation log: the next-operation rule with recovery forks, replay and audit.

https://web.plc.directory/spec/v0.1/did-plc#key-rotation--account-recovery and
https://web.plc.directory/spec/v0.1/did-plc#audit-logs
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

from sonet.identity.plc_errors import (
    AuditMismatchError,
    ImproperOperationError,
    InvalidSignatureError,
    LateRecoveryError,
    MisorderedOperationError,
    RateLimitError,
)
from sonet.identity.plc_ops import AnyOp, DocumentData, normalize_op, op_cid, op_to_data
from sonet.identity.plc_validate import (
    PlcLimits,
    assure_valid_creation_op,
    parse_operation,
    verify_op_signature,
)
from sonet.repo.cid import InvalidCidError, parse_cid
from sonet.syntax.datetime import format_datetime, parse_datetime
from sonet.syntax.errors import InvalidSyntaxError

__all__ = [
    "RECOVERY_WINDOW",
    "LogEntry",
    "NextOp",
    "apply_op",
    "assure_valid_next_op",
    "enforce_rate_limit",
    "parse_log_entry",
    "validate_operation_log",
    "verify_audit_log",
]

RECOVERY_WINDOW: Final = timedelta(hours=72)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One operation of a DID's audit log, with the directory's timestamp."""

    did: str
    operation: AnyOp
    cid: str
    nullified: bool
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The audit-log JSON form (``did``, ``operation``, ``cid``, ``nullified``, ``createdAt``)."""
        return {
            "did": self.did,
            "operation": self.operation,
            "cid": self.cid,
            "nullified": self.nullified,
            "createdAt": format_datetime(self.created_at),
        }


@dataclass(frozen=True, slots=True)
class NextOp:
    """What accepting an operation does: its ``prev`` and the CIDs it nullifies."""

    prev: str | None
    nullified: tuple[str, ...]


def parse_log_entry(value: object) -> LogEntry:
    """An audit-log entry from its JSON form; the CID is recomputed and must match."""
    if not isinstance(value, dict):
        raise ImproperOperationError("an audit log entry must be a JSON object")
    did, cid, nullified, created = (value.get(k) for k in ("did", "cid", "nullified", "createdAt"))
    if not isinstance(did, str) or not isinstance(cid, str) or not isinstance(nullified, bool):
        raise ImproperOperationError("an audit log entry needs did, cid and nullified")
    try:
        created_at = parse_datetime(created) if isinstance(created, str) else None
    except InvalidSyntaxError:
        created_at = None
    if created_at is None:
        raise ImproperOperationError(f"bad createdAt in audit log entry: {created!r}")
    op = parse_operation(value.get("operation"))
    if op_cid(op) != cid:
        raise AuditMismatchError(f"audit log entry cid {cid} is not the CID of its operation")
    return LogEntry(did, op, cid, nullified, created_at)


def _canonical_prev(prev: str) -> str:
    try:
        return str(parse_cid(prev).encode())
    except InvalidCidError:
        raise MisorderedOperationError(f"prev is not a CID: {prev!r}") from None


def assure_valid_next_op(
    did: str, active: Sequence[LogEntry], proposed: AnyOp, proposed_at: datetime
) -> NextOp:
    """Check ``proposed`` against the DID's non-nullified ops, oldest first.

    An op whose ``prev`` is older than the head forks history: it must be signed by a rotation
    key listed (in the fork point's op) before the key that signed the first op it nullifies,
    and arrive within 72 hours of that op.
    """
    if not active:
        assure_valid_creation_op(did, proposed)
        return NextOp(prev=None, nullified=())
    if proposed["prev"] is None:
        raise MisorderedOperationError(f"{did} already exists: only a genesis op has a null prev")
    prev = _canonical_prev(proposed["prev"])
    index = next((i for i, entry in enumerate(active) if entry.cid == prev), -1)
    if index < 0:
        raise MisorderedOperationError(f"prev {prev} is not a valid operation of {did}")
    fork_point = active[index].operation
    if fork_point["type"] == "plc_tombstone":
        raise MisorderedOperationError(f"prev {prev} is a tombstone: {did} was deactivated")
    keys = normalize_op(fork_point)["rotationKeys"]
    disputed = active[index + 1 :]
    if not disputed:
        verify_op_signature(keys, proposed)
        return NextOp(prev=prev, nullified=())
    disputed_signer = verify_op_signature(keys, disputed[0].operation)
    stronger = keys[: keys.index(disputed_signer)]
    try:
        verify_op_signature(stronger, proposed)
    except InvalidSignatureError:
        raise InvalidSignatureError(
            f"prev {prev} is not the latest operation of {did}: a fork must be signed by a "
            f"rotation key ranked above the one that signed {disputed[0].cid}"
        ) from None
    if proposed_at <= active[-1].created_at:
        raise MisorderedOperationError("operation timestamps must increase")
    lapsed = proposed_at - disputed[0].created_at
    if lapsed > RECOVERY_WINDOW:
        raise LateRecoveryError(
            f"Recovery operation arrived {lapsed} after the operation it would nullify: "
            "outside the 72-hour recovery window"
        )
    return NextOp(prev=prev, nullified=tuple(entry.cid for entry in disputed))


def apply_op(
    did: str, log: Sequence[LogEntry], proposed: AnyOp, proposed_at: datetime
) -> list[LogEntry]:
    """The whole audit log after accepting ``proposed`` (nullified ops flagged)."""
    active = [entry for entry in log if not entry.nullified]
    result = assure_valid_next_op(did, active, proposed, proposed_at)
    nullified = set(result.nullified)
    updated = [replace(e, nullified=True) if e.cid in nullified else e for e in log]
    updated.append(LogEntry(did, proposed, op_cid(proposed), False, proposed_at))
    return updated


def verify_audit_log(did: str, entries: Sequence[LogEntry]) -> DocumentData | None:
    """Replay a full audit log, oldest first; the DID's current state (None: tombstoned).

    Every op must have been acceptable when it arrived, and the ``nullified`` flags must be
    exactly those the recovery rule produces.
    """
    if not entries:
        raise MisorderedOperationError(f"the audit log of {did} is empty")
    replayed: list[LogEntry] = []
    for entry in entries:
        if entry.did != did:
            raise AuditMismatchError(f"audit log of {did} holds an entry of {entry.did}")
        replayed = apply_op(did, replayed, entry.operation, entry.created_at)
    for given, expected in zip(entries, replayed, strict=True):
        if given.cid != expected.cid or given.nullified != expected.nullified:
            raise AuditMismatchError(
                f"audit log entry {given.cid} says nullified={given.nullified}; "
                f"replay gives {expected.nullified}"
            )
    last = [e for e in replayed if not e.nullified][-1]
    return op_to_data(did, last.operation)


def validate_operation_log(did: str, ops: Sequence[AnyOp]) -> DocumentData | None:
    """Check a DID's chain of valid ops (``GET /:did/log``); its state (None: tombstoned).

    https://web.plc.directory/spec/v0.1/did-plc#audit-logs
    """
    if not ops:
        raise MisorderedOperationError(f"the operation log of {did} is empty")
    data: DocumentData | None = assure_valid_creation_op(did, ops[0])
    prev = op_cid(ops[0])
    for op in ops[1:]:
        if data is None:
            raise MisorderedOperationError("an operation follows a tombstone")
        if op["type"] == "create":
            raise MisorderedOperationError("a legacy create op can only be the genesis op")
        if op["prev"] is None or _canonical_prev(op["prev"]) != prev:
            raise MisorderedOperationError(f"operation prev does not point to {prev}")
        verify_op_signature(data["rotationKeys"], op)
        data = op_to_data(did, op)
        prev = op_cid(op)
    return data


def enforce_rate_limit(active: Sequence[LogEntry], now: datetime, limits: PlcLimits) -> None:
    """Refuse a further op when a DID already has the allowed number within a window."""
    for window, allowed, name in (
        (timedelta(hours=1), limits.ops_per_hour, "hour"),
        (timedelta(days=1), limits.ops_per_day, "day"),
        (timedelta(weeks=1), limits.ops_per_week, "week"),
    ):
        recent = sum(1 for entry in active if entry.created_at > now - window)
        if recent >= allowed:
            raise RateLimitError(f"Too many operations within the last {name} (max {allowed})")
