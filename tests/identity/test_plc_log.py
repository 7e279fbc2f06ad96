"""The next-operation rule, the 72-hour recovery window, log and audit-log validation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sonet.crypto import Keypair, generate_keypair
from sonet.identity.plc_errors import (
    AuditMismatchError,
    GenesisHashError,
    ImproperOperationError,
    InvalidSignatureError,
    LateRecoveryError,
    MisorderedOperationError,
    RateLimitError,
)
from sonet.identity.plc_log import (
    RECOVERY_WINDOW,
    LogEntry,
    apply_op,
    assure_valid_next_op,
    enforce_rate_limit,
    parse_log_entry,
    validate_operation_log,
    verify_audit_log,
)
from sonet.identity.plc_ops import (
    Operation,
    UnsignedOperation,
    create_atproto_op,
    did_for_genesis,
    op_cid,
    sign_operation,
    tombstone_op,
    update_operation,
)
from sonet.identity.plc_validate import PlcLimits

T0 = datetime(2025, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Account:
    """A DID with a recovery key (first) and a rotation key (second), and its audit log."""

    def __init__(self) -> None:
        self.recovery = generate_keypair("p256")
        self.rotation = generate_keypair("k256")
        self.did, self.genesis = create_atproto_op(
            signing_key=generate_keypair().did(),
            handle="alice.test",
            pds_endpoint="https://pds.test",
            rotation_keys=[self.recovery.did(), self.rotation.did()],
            signer=self.rotation,
        )
        self.log = apply_op(self.did, [], self.genesis, T0)

    @property
    def active(self) -> list[LogEntry]:
        return [e for e in self.log if not e.nullified]

    def head(self) -> Operation:
        op = self.active[-1].operation
        assert op["type"] == "plc_operation"
        return op

    def update(self, signer: Keypair, at: datetime, **changes: object) -> Operation:
        op = update_operation(self.head(), signer, **changes)  # type: ignore[arg-type]
        self.log = apply_op(self.did, self.log, op, at)
        return op

    def fork(self, signer: Keypair, at: datetime, handle: str = "recovered.test") -> None:
        op = update_operation(self.genesis, signer, handle=handle)
        self.log = apply_op(self.did, self.log, op, at)


def test_genesis_then_updates() -> None:
    acct = Account()
    acct.update(acct.rotation, T0 + HOUR, handle="bob.test")
    acct.update(acct.recovery, T0 + 2 * HOUR, pds_endpoint="https://pds2.test")
    data = verify_audit_log(acct.did, acct.log)
    assert data is not None
    assert data["alsoKnownAs"] == ["at://bob.test"]
    assert data["services"]["atproto_pds"]["endpoint"] == "https://pds2.test"
    assert validate_operation_log(acct.did, [e.operation for e in acct.log]) == data


def test_genesis_for_another_did() -> None:
    acct = Account()
    with pytest.raises(GenesisHashError):
        apply_op("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", [], acct.genesis, T0)


def test_genesis_signed_by_a_foreign_key() -> None:
    acct = Account()
    unsigned: UnsignedOperation = {k: v for k, v in acct.genesis.items() if k != "sig"}  # type: ignore[assignment]
    forged = sign_operation(unsigned, generate_keypair())
    with pytest.raises(InvalidSignatureError):
        apply_op(did_for_genesis(forged), [], forged, T0)


def test_genesis_with_a_prev() -> None:
    acct = Account()
    op = update_operation(acct.genesis, acct.rotation, handle="x.test")
    with pytest.raises(ImproperOperationError):
        apply_op(did_for_genesis(op), [], op, T0)


def test_tombstone_cannot_be_genesis() -> None:
    acct = Account()
    tomb = tombstone_op(op_cid(acct.genesis), acct.rotation)
    with pytest.raises(MisorderedOperationError):
        apply_op(acct.did, [], tomb, T0)


def test_second_genesis_rejected() -> None:
    acct = Account()
    with pytest.raises(MisorderedOperationError):
        apply_op(acct.did, acct.log, acct.genesis, T0 + HOUR)


def test_wrong_prev() -> None:
    acct = Account()
    unknown = update_operation(
        acct.genesis,
        acct.rotation,
        handle="x.test",
        prev="bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
    )
    with pytest.raises(MisorderedOperationError):
        apply_op(acct.did, acct.log, unknown, T0 + HOUR)
    garbage = update_operation(acct.genesis, acct.rotation, handle="x.test", prev="not-a-cid")
    with pytest.raises(MisorderedOperationError):
        apply_op(acct.did, acct.log, garbage, T0 + HOUR)


def test_update_signed_by_a_non_rotation_key() -> None:
    acct = Account()
    with pytest.raises(InvalidSignatureError):
        acct.update(generate_keypair(), T0 + HOUR, handle="evil.test")


def test_op_after_tombstone() -> None:
    acct = Account()
    head = acct.head()
    tomb = tombstone_op(op_cid(head), acct.rotation)
    acct.log = apply_op(acct.did, acct.log, tomb, T0 + HOUR)
    assert verify_audit_log(acct.did, acct.log) is None
    after = update_operation(head, acct.rotation, handle="zombie.test", prev=op_cid(tomb))
    with pytest.raises(MisorderedOperationError):
        apply_op(acct.did, acct.log, after, T0 + 2 * HOUR)
    with pytest.raises(MisorderedOperationError):
        validate_operation_log(acct.did, [acct.genesis, tomb, after])


def test_recovery_within_72h_nullifies_the_fork() -> None:
    acct = Account()
    attacker = generate_keypair()
    acct.update(acct.rotation, T0 + HOUR, rotation_keys=[attacker.did()])
    acct.update(attacker, T0 + 2 * HOUR, handle="attacker.test")
    acct.fork(acct.recovery, T0 + 50 * HOUR)
    assert [e.nullified for e in acct.log] == [False, True, True, False]
    data = verify_audit_log(acct.did, acct.log)
    assert data is not None and data["alsoKnownAs"] == ["at://recovered.test"]


def test_recovery_at_exactly_72h_is_accepted() -> None:
    acct = Account()
    acct.update(acct.rotation, T0 + HOUR, handle="bad.test")
    acct.fork(acct.recovery, T0 + HOUR + RECOVERY_WINDOW)
    assert [e.nullified for e in acct.log] == [False, True, False]


def test_recovery_after_72h_rejected() -> None:
    acct = Account()
    acct.update(acct.rotation, T0 + HOUR, handle="bad.test")
    with pytest.raises(LateRecoveryError):
        acct.fork(acct.recovery, T0 + HOUR + RECOVERY_WINDOW + timedelta(milliseconds=1))


def test_window_counts_from_the_first_nullified_op() -> None:
    acct = Account()
    acct.update(acct.rotation, T0 + HOUR, handle="bad.test")
    acct.update(acct.rotation, T0 + 70 * HOUR, handle="worse.test")
    with pytest.raises(LateRecoveryError):
        acct.fork(acct.recovery, T0 + 74 * HOUR)


def test_fork_by_a_lower_priority_key_rejected() -> None:
    acct = Account()
    acct.update(acct.recovery, T0 + HOUR, handle="by-recovery.test")
    with pytest.raises(InvalidSignatureError, match="ranked above"):
        acct.fork(acct.rotation, T0 + 2 * HOUR)


def test_fork_by_the_same_key_rejected() -> None:
    acct = Account()
    acct.update(acct.rotation, T0 + HOUR, handle="one.test")
    with pytest.raises(InvalidSignatureError):
        acct.fork(acct.rotation, T0 + 2 * HOUR)


def test_fork_uses_the_keys_of_the_fork_point() -> None:
    acct = Account()
    acct.update(acct.rotation, T0 + HOUR, handle="one.test")
    middle = acct.head()
    acct.update(acct.rotation, T0 + 2 * HOUR, handle="two.test")
    fork = update_operation(middle, acct.recovery, handle="fork.test")
    acct.log = apply_op(acct.did, acct.log, fork, T0 + 3 * HOUR)
    assert [e.nullified for e in acct.log] == [False, False, True, False]


def test_fork_timestamps_must_increase() -> None:
    acct = Account()
    acct.update(acct.rotation, T0 + 2 * HOUR, handle="bad.test")
    with pytest.raises(MisorderedOperationError):
        acct.fork(acct.recovery, T0 + 2 * HOUR)


def test_tombstone_undone_by_recovery() -> None:
    acct = Account()
    acct.log = apply_op(
        acct.did, acct.log, tombstone_op(op_cid(acct.genesis), acct.rotation), T0 + HOUR
    )
    acct.fork(acct.recovery, T0 + 10 * HOUR, handle="alive.test")
    data = verify_audit_log(acct.did, acct.log)
    assert data is not None and data["alsoKnownAs"] == ["at://alive.test"]


def test_nullified_ops_cannot_be_built_on() -> None:
    acct = Account()
    bad = acct.update(acct.rotation, T0 + HOUR, handle="bad.test")
    acct.fork(acct.recovery, T0 + 2 * HOUR)
    on_bad = update_operation(bad, acct.recovery, handle="x.test")
    with pytest.raises(MisorderedOperationError):
        apply_op(acct.did, acct.log, on_bad, T0 + 3 * HOUR)


def test_assure_valid_next_op_reports_nullified() -> None:
    acct = Account()
    bad = acct.update(acct.rotation, T0 + HOUR, handle="bad.test")
    fork = update_operation(acct.genesis, acct.recovery, handle="good.test")
    result = assure_valid_next_op(acct.did, acct.active, fork, T0 + 2 * HOUR)
    assert result.prev == op_cid(acct.genesis)
    assert result.nullified == (op_cid(bad),)


def test_audit_log_with_wrong_flags() -> None:
    acct = Account()
    acct.update(acct.rotation, T0 + HOUR, handle="bad.test")
    acct.fork(acct.recovery, T0 + 2 * HOUR)
    lying = [replace(e, nullified=False) for e in acct.log]
    with pytest.raises(AuditMismatchError):
        verify_audit_log(acct.did, lying)
    with pytest.raises(AuditMismatchError):
        verify_audit_log("did:plc:other", acct.log)


def test_validate_operation_log_errors() -> None:
    acct = Account()
    first = acct.update(acct.rotation, T0 + HOUR, handle="one.test")
    second = acct.update(acct.rotation, T0 + 2 * HOUR, handle="two.test")
    assert validate_operation_log(acct.did, [acct.genesis, first, second]) is not None
    with pytest.raises(MisorderedOperationError):
        validate_operation_log(acct.did, [acct.genesis, second])
    with pytest.raises(MisorderedOperationError):
        validate_operation_log(acct.did, [])
    with pytest.raises(GenesisHashError):
        validate_operation_log("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", [acct.genesis])


def test_parse_log_entry() -> None:
    acct = Account()
    entry = acct.log[0].to_json()
    assert parse_log_entry(entry) == acct.log[0]
    with pytest.raises(AuditMismatchError):
        parse_log_entry({**entry, "cid": op_cid(acct.head()) + "x"})
    for bad in ({**entry, "createdAt": "yesterday"}, {**entry, "nullified": "no"}, [entry]):
        with pytest.raises(ImproperOperationError):
            parse_log_entry(bad)


def test_rate_limit() -> None:
    acct = Account()
    limits = PlcLimits(ops_per_hour=3)
    for i in range(2):
        acct.update(acct.rotation, T0 + timedelta(minutes=i + 1), handle=f"h{i}.test")
    with pytest.raises(RateLimitError):
        enforce_rate_limit(acct.active, T0 + timedelta(minutes=5), limits)
    enforce_rate_limit(acct.active, T0 + 2 * HOUR, limits)
    with pytest.raises(RateLimitError, match="day"):
        enforce_rate_limit(acct.active, T0 + 2 * HOUR, PlcLimits(ops_per_day=3))
