"""Calls per second of the hot syntax paths: TID minting and identifier validation.

Run: ``python bench/bench_syntax.py``. Target: next_tid above 300k/s (it is on the write path).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import throughput
from sonet.syntax.aturi import AtUri
from sonet.syntax.did import is_valid_did
from sonet.syntax.handle import is_valid_handle
from sonet.syntax.tid import next_tid

POST_URI = "at://did:plc:44ybard66vv44zksje25o7dz/app.bsky.feed.post/3jwdwj2ctlk26"
CASES: dict[str, Callable[[], object]] = {
    "next_tid": next_tid,
    "is_valid_did": lambda: is_valid_did("did:plc:44ybard66vv44zksje25o7dz"),
    "is_valid_handle": lambda: is_valid_handle("alice.bsky.social"),
    "AtUri.parse": lambda: AtUri.parse(POST_URI),
}


def main() -> None:
    for name, fn in CASES.items():
        print(f"{name:<16} {throughput(fn, seconds=0.2, repeat=5):>12,.0f} /s")


if __name__ == "__main__":
    main()
