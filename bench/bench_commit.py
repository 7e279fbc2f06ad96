"""Commit signing and verification throughput and latency on both curves.

Run: ``python bench/bench_commit.py``. "sign" builds, encodes and signs a v3 commit and makes its
block; "verify" is what a relay does per firehose commit: decode the block, then check the
signature. Prints ops/s, p50/p99 latency and the peak Python memory of the verify loop.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable

from sonet.crypto import Keypair, generate_keypair
from sonet.repo.cbor import encode
from sonet.repo.cid import cid_for_cbor
from sonet.repo.commit import decode_commit, sign_commit, verify_commit
from sonet.syntax.tid import next_tid

OPS = 20_000
DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
DATA = cid_for_cbor(encode({"e": [], "l": None}))


def measure(name: str, fn: Callable[[], object]) -> None:
    latencies = []
    clock = time.perf_counter
    start = clock()
    for _ in range(OPS):
        before = clock()
        fn()
        latencies.append(clock() - before)
    elapsed = clock() - start
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{name:<22} {OPS / elapsed:>9,.0f} ops/s   "
        f"p50 {cuts[49] * 1e6:6.1f} us   p99 {cuts[98] * 1e6:6.1f} us"
    )


def bench_curve(kind: str, keypair: Keypair) -> None:
    public = keypair.public_key()
    rev = next_tid()
    block = sign_commit(DID, DATA, rev, keypair).to_block()[1]

    def sign() -> object:
        return sign_commit(DID, DATA, rev, keypair).to_block()

    def verify() -> object:
        ok = verify_commit(decode_commit(block), public)
        assert ok
        return ok

    measure(f"{kind} sign + block", sign)
    measure(f"{kind} decode + verify", verify)
    measure(f"{kind} decode only", lambda: decode_commit(block))
    tracemalloc.start()
    for _ in range(1000):
        verify()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{kind} verify loop peak memory {peak / 1024:.1f} KiB")


def main() -> None:
    for kind in ("k256", "p256"):
        bench_curve(kind, generate_keypair(kind))


if __name__ == "__main__":
    main()
