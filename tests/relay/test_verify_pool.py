"""Verification worker processes: batches, order, and a worker that dies."""

from __future__ import annotations

import asyncio

from sonet.crypto import generate_keypair
from sonet.relay.verify_pool import VerifyPool
from sonet.sync.verifier import DropReason, VerifyJob
from tests.relay.synthetic import SyntheticAccount

TOLERANCE_US = 300_000_000


def jobs(count: int) -> list[VerifyJob]:
    account = SyntheticAccount.generate(records=10)
    out = []
    for i in range(count):
        key = generate_keypair("k256") if i % 3 == 2 else None
        built = account.build_commit(key=key)
        if key is None:
            account.advance(built)
        out.append(VerifyJob(built.frame(i + 1), account.key.did(), True, TOLERANCE_US))
    return out


async def test_outcomes_come_back_in_order() -> None:
    pool = VerifyPool(2, max_batch=4)
    await pool.start()
    try:
        batch = jobs(30)
        outcomes = await asyncio.gather(*(pool.submit(job) for job in batch))
    finally:
        await pool.close()
    expected = [DropReason.BAD_SIGNATURE if i % 3 == 2 else None for i in range(30)]
    assert [o.reason for o in outcomes] == expected
    assert pool.jobs == 30 and pool.batches >= 8


async def test_a_dead_worker_is_replaced() -> None:
    pool = VerifyPool(1)
    await pool.start()
    try:
        batch = jobs(3)
        assert (await pool.submit(batch[0])).reason is None
        worker = pool._workers[0]
        worker.process.kill()
        worker.process.join()
        outcome = await pool.submit(batch[1])
        assert outcome.reason in (None, DropReason.INTERNAL)
        for _ in range(100):
            if pool._workers and pool._workers[0] is not worker:
                break
            await asyncio.sleep(0.05)
        assert (await pool.submit(batch[1])).reason is None
    finally:
        await pool.close()


async def test_inline_pool() -> None:
    pool = VerifyPool(0)
    await pool.start()
    outcomes = await asyncio.gather(*(pool.submit(job) for job in jobs(4)))
    assert [o.reason for o in outcomes] == [None, None, DropReason.BAD_SIGNATURE, None]
    await pool.close()
