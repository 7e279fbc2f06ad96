"""Signatures per second on both curves, and did:key parsing with and without the cache.

Run: ``python bench/bench_crypto.py``. Figures to compare with are in /work/shared/design.md
(K-256 sign 27k/s verify 21k/s; P-256 sign 34k/s verify 14k/s).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import throughput
from sonet.crypto import K256Keypair, Keypair, P256Keypair, decode_did_key, parse_did_key

MESSAGE = b"\xa4" + os.urandom(200)  # about the size of a signed repo commit


def bench_curve(name: str, keypair: Keypair) -> None:
    public = keypair.public_key()
    sig = keypair.sign(MESSAGE)
    assert public.verify(MESSAGE, sig)
    print(f"{name} sign          {throughput(lambda: keypair.sign(MESSAGE)):>10,.0f} /s")
    print(f"{name} verify        {throughput(lambda: public.verify(MESSAGE, sig)):>10,.0f} /s")
    did = keypair.did()
    print(f"{name} did:key cached {throughput(lambda: parse_did_key(did)):>9,.0f} /s")
    print(f"{name} did:key parse  {throughput(lambda: decode_did_key(did)):>9,.0f} /s")


def main() -> None:
    bench_curve("k256", K256Keypair.generate())
    bench_curve("p256", P256Keypair.generate())


if __name__ == "__main__":
    main()
