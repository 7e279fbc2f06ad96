"""The stateless commit checks, one hostile variant at a time."""

from __future__ import annotations

from typing import Any

import pytest

from sonet.crypto import generate_keypair
from sonet.repo.car import car_bytes
from sonet.repo.cbor import encode_with_cid
from sonet.repo.cid import CID, cid_for_cbor
from sonet.repo.mst_proof import RepoOp
from sonet.sync.verifier import DropReason, VerifyJob, VerifyOutcome, verify_batch, verify_job
from sonet.syntax.tid import tid_from
from sonet.xrpc.frames import MessageFrame
from tests.relay.synthetic import BuiltCommit, SyntheticAccount, now_iso

TOLERANCE_US = 300_000_000


@pytest.fixture
def account() -> SyntheticAccount:
    return SyntheticAccount.generate(records=30)


def check(
    account: SyntheticAccount,
    frame: bytes,
    *,
    strict: bool = True,
    key: str | None = None,
) -> VerifyOutcome:
    job = VerifyJob(frame, key or account.key.did(), strict, TOLERANCE_US)
    return verify_job(job)


def reason(outcome: VerifyOutcome) -> str | None:
    return outcome.reason


def test_valid_commit_is_accepted(account: SyntheticAccount) -> None:
    built = account.build_commit(2)
    outcome = check(account, built.frame(1))
    assert outcome.reason is None, outcome.message
    assert outcome.data_cid == bytes(built.data)
    assert outcome.commit_cid == bytes(built.commit_cid)
    assert outcome.warnings == ()


def test_updates_and_deletes_are_proven(account: SyntheticAccount) -> None:
    built = account.build_commit(1, updates=2, deletes=2)
    assert check(account, built.frame(1)).reason is None


def test_forged_signature(account: SyntheticAccount) -> None:
    built = account.build_commit(key=generate_keypair("k256"))
    assert reason(check(account, built.frame(1))) == DropReason.BAD_SIGNATURE


def test_signature_by_another_curve_key(account: SyntheticAccount) -> None:
    other = generate_keypair("p256")
    built = account.build_commit()
    assert reason(check(account, built.frame(1), key=other.did())) == DropReason.BAD_SIGNATURE


def test_proof_not_matching_prev_data(account: SyntheticAccount) -> None:
    built = account.build_commit()
    built.prev_data = cid_for_cbor(b"\xa0")
    assert reason(check(account, built.frame(1))) == DropReason.BAD_PROOF


def test_op_claiming_another_record(account: SyntheticAccount) -> None:
    built = account.build_commit()
    other, _ = encode_with_cid({"text": "not the record"})
    built.ops = [RepoOp("create", built.ops[0].path, other)]
    assert reason(check(account, built.frame(1))) in (
        DropReason.MISSING_RECORD,
        DropReason.BAD_PROOF,
    )


def test_hidden_operation_breaks_the_proof(account: SyntheticAccount) -> None:
    built = account.build_commit(2)
    built.ops = built.ops[:1]  # one write left out of the ops
    assert reason(check(account, built.frame(1))) == DropReason.BAD_PROOF


def test_missing_proof_block(account: SyntheticAccount) -> None:
    built = account.build_commit()
    # keep only the commit block and the record: the MST nodes are gone
    from sonet.repo.car import read_car

    car = read_car(built.blocks)
    record = built.ops[0].cid
    assert record is not None
    kept = {cid: car.blocks[cid] for cid in (built.commit_cid, record)}
    built.blocks = car_bytes(built.commit_cid, kept.items())
    assert reason(check(account, built.frame(1))) == DropReason.BAD_PROOF


def test_missing_prev_data_skips_the_inversion(account: SyntheticAccount) -> None:
    # allowed for an account's first commit; the relay refuses it later ones (test_hostile)
    built = account.build_commit()
    built.prev_data = None
    assert check(account, built.frame(1)).reason is None


def test_deprecated_flags(account: SyntheticAccount) -> None:
    built = account.build_commit()
    assert reason(check(account, built.frame(1, tooBig=True))) == DropReason.DEPRECATED_FLAG
    assert reason(check(account, built.frame(1, rebase=True))) == DropReason.DEPRECATED_FLAG
    assert check(account, built.frame(1, rebase=True), strict=False).warnings == (
        DropReason.DEPRECATED_FLAG.value,
    )


def test_future_rev(account: SyntheticAccount) -> None:
    import time

    future = tid_from(time.time_ns() // 1000 + 3600 * 1_000_000, 0)
    built = account.build_commit(rev=future)
    assert reason(check(account, built.frame(1))) == DropReason.FUTURE_REV


def test_message_fields_must_match_the_commit(account: SyntheticAccount) -> None:
    built = account.build_commit()
    other = SyntheticAccount.generate()
    assert reason(check(account, built.frame(1, repo=other.did))) == DropReason.BAD_COMMIT
    assert reason(check(account, built.frame(1, rev=tid_from(1, 1)))) == DropReason.BAD_COMMIT
    wrong_cid = cid_for_cbor(b"\x01")
    assert reason(check(account, built.frame(1, commit=wrong_cid))) == DropReason.BAD_COMMIT


@pytest.mark.parametrize(
    "blocks",
    [
        b"",
        b"not a car at all",
        b"\x0a\xa2ev\x01eroots\x80" + b"\x00" * 4,
    ],
)
def test_malformed_car(account: SyntheticAccount, blocks: bytes) -> None:
    built = account.build_commit()
    outcome = check(account, built.frame(1, blocks=blocks))
    assert reason(outcome) in (DropReason.BAD_CAR, DropReason.MISSING_BLOCKS)


def test_car_block_with_wrong_hash(account: SyntheticAccount) -> None:
    built = account.build_commit()
    record_cid = built.ops[0].cid
    assert record_cid is not None
    tampered = bytearray(built.blocks)
    position = tampered.find(bytes(record_cid)) + len(bytes(record_cid))
    tampered[position + 5] ^= 0xFF  # flip a byte of the record's data
    assert reason(check(account, built.frame(1, blocks=bytes(tampered)))) == DropReason.BAD_CAR


def test_car_root_is_not_a_commit(account: SyntheticAccount) -> None:
    built = account.build_commit()
    block_cid, block = encode_with_cid({"hello": "world"})
    car = car_bytes(block_cid, [(block_cid, block)])
    assert reason(check(account, built.frame(1, blocks=car, commit=block_cid))) == (
        DropReason.BAD_COMMIT
    )


def test_too_many_ops_and_too_large(account: SyntheticAccount) -> None:
    built = account.build_commit()
    ops = [{"action": "create", "path": f"a.b.c/{i}", "cid": built.commit_cid} for i in range(201)]
    assert reason(check(account, built.frame(1, ops=ops))) == DropReason.TOO_MANY_OPS
    huge = b"\x00" * 2_000_001
    assert reason(check(account, built.frame(1, blocks=huge))) == DropReason.BLOCKS_TOO_LARGE


@pytest.mark.parametrize(
    "ops",
    [
        [{"action": "explode", "path": "a/b", "cid": None}],
        [{"action": "create", "path": 5, "cid": None}],
        [{"action": "create", "path": "a/b"}],
        ["not a map"],
    ],
)
def test_malformed_ops(account: SyntheticAccount, ops: list[Any]) -> None:
    built = account.build_commit()
    assert reason(check(account, built.frame(1, ops=ops))) == DropReason.BAD_OPS


def test_malformed_frames(account: SyntheticAccount) -> None:
    assert reason(check(account, b"\xff\x00garbage")) == DropReason.MALFORMED_FRAME
    body = {"seq": 1, "repo": account.did}  # required fields missing
    assert reason(check(account, MessageFrame(body, "#commit").to_bytes())) == (
        DropReason.MALFORMED_FRAME
    )


def test_sync_event(account: SyntheticAccount) -> None:
    assert check(account, account.sync_frame(1)).reason is None
    forged = account.sync_frame(2, key=generate_keypair("k256"))
    assert reason(check(account, forged)) == DropReason.BAD_SIGNATURE


def test_batch_keeps_order(account: SyntheticAccount) -> None:
    good = account.build_commit()
    bad = account.build_commit(key=generate_keypair("k256"))
    jobs = [
        VerifyJob(frame, account.key.did(), True, TOLERANCE_US)
        for frame in (good.frame(1), bad.frame(2), good.frame(3))
    ]
    assert [o.reason for o in verify_batch(jobs)] == [None, DropReason.BAD_SIGNATURE, None]


def test_unusable_key(account: SyntheticAccount) -> None:
    built = account.build_commit()
    assert reason(check(account, built.frame(1), key="did:key:zNotAKey")) == (
        DropReason.IDENTITY_UNAVAILABLE
    )


def test_built_commit_helpers_are_consistent(account: SyntheticAccount) -> None:
    built: BuiltCommit = account.build_commit()
    account.advance(built)
    following = account.build_commit()
    assert following.since == built.rev
    assert following.prev_data == built.data
    assert isinstance(following.commit_cid, CID)
    assert now_iso().endswith("Z")
