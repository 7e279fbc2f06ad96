"""CAR write and read (with hash verification) of 100,000 small blocks.

Run: ``python bench/bench_car.py``. Prints blocks/s and MB/s for the writer, the in-memory
reader with and without hash checks, the sync stream reader and the async stream reader, and
the peak Python memory of a verified read (tracemalloc, measured in a separate pass).
"""

from __future__ import annotations

import asyncio
import io
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import peak_memory, timings
from sonet.repo.car import aiter_car, car_bytes, iter_car, read_car, write_car
from sonet.repo.cbor import encode
from sonet.repo.cid import CID, cid_for_cbor

BLOCK_COUNT = 100_000
RUNS = 5


def make_blocks(count: int) -> list[tuple[CID, bytes]]:
    """Post-sized records (about 150 bytes), like most of a real repository."""
    blocks = []
    for index in range(count):
        record = {
            "$type": "app.bsky.feed.post",
            "text": f"post number {index} with a little text to make it realistic",
            "createdAt": "2024-11-22T02:58:00.000Z",
            "langs": ["en"],
        }
        data = encode(record)
        blocks.append((cid_for_cbor(data), data))
    return blocks


def report(name: str, fn: Callable[[], object], size: int) -> None:
    """Median and best of ``RUNS`` timed calls of ``fn``, in blocks/s and MB/s."""
    times, _ = timings(fn, runs=RUNS)
    median, best = statistics.median(times), min(times)
    print(
        f"{name:<28} median {median * 1000:7.1f} ms  best {best * 1000:7.1f} ms  "
        f"{BLOCK_COUNT / median:>10,.0f} blocks/s  {size / median / 1e6:7.1f} MB/s"
    )


async def read_async(data: bytes) -> int:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    stream = await aiter_car(reader)
    count = 0
    async for _ in stream:
        count += 1
    return count


def main() -> None:
    blocks = make_blocks(BLOCK_COUNT)
    root = blocks[0][0]
    data = car_bytes(root, blocks)
    size = len(data)
    print(f"{BLOCK_COUNT:,} blocks, CAR of {size / 1e6:.1f} MB\n")
    report("write_car (64 KiB chunks)", lambda: list(write_car(root, blocks)), size)
    report("car_bytes", lambda: car_bytes(root, blocks), size)
    report("read_car, verify hashes", lambda: read_car(data), size)
    report("read_car, no hash check", lambda: read_car(data, verify_hashes=False), size)
    report("iter_car (BytesIO)", lambda: sum(1 for _ in iter_car(io.BytesIO(data))), size)
    report("aiter_car (StreamReader)", lambda: asyncio.run(read_async(data)), size)
    car = read_car(data)
    assert list(car.blocks.items()) == blocks
    print()
    peak_memory("read_car", lambda: read_car(data))
    peak_memory("iter_car", lambda: sum(1 for _ in iter_car(io.BytesIO(data))))
    peak_memory("write_car", lambda: list(write_car(root, blocks)))


if __name__ == "__main__":
    main()
