"""Commit signing and verification throughput and latency on both curves.

Run: ``python bench/bench_commit.py``. "sign" builds, encodes and signs a v3 commit and makes its
block; "verify" is what a relay does per firehose commit: decode the block, then check the
signature. Prints ops/s, p50/p99 latency and the peak Python memory of a 1,000-commit verify loop.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import measure, peak_memory
from sonet.crypto import Keypair, generate_keypair
from sonet.repo.cbor import encode
from sonet.repo.cid import cid_for_cbor
from sonet.repo.commit import decode_commit, sign_commit, verify_commit
from sonet.syntax.tid import next_tid

DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
DATA = cid_for_cbor(encode({"e": [], "l": None}))


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

    def verify_loop() -> None:
        for _ in range(1000):
            verify()

    peak_memory(f"{kind} verify loop (1,000 commits)", verify_loop)


def main() -> None:
    for kind in ("k256", "p256"):
        bench_curve(kind, generate_keypair(kind))


if __name__ == "__main__":
    main()
