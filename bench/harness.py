"""Shared measuring helpers for the benchmarks: rates, latency percentiles, peak memory.

Every benchmark prints lines of the form ``name: N ops/s  p50 X us  p99 Y us`` so figures from
different runs and modules read the same way.
"""

from __future__ import annotations

import gc
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def measure(name: str, fn: Callable[[], object], *, seconds: float = 1.0, batch: int = 1) -> float:
    """Call ``fn`` repeatedly for about ``seconds``; print and return ops/s (``batch`` ops/call)."""
    fn()  # warm up
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 5:
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    rate = batch * len(samples) / sum(samples)
    qs = statistics.quantiles(samples, n=100) if len(samples) >= 2 else samples * 99
    print(
        f"{name}: {rate:,.0f} ops/s  p50 {qs[49] * 1e6 / batch:,.1f} us"
        f"  p99 {qs[98] * 1e6 / batch:,.1f} us"
    )
    return rate


def median_time(name: str, fn: Callable[[], T], *, runs: int = 3, items: int = 0) -> T:
    """Run ``fn`` ``runs`` times; print the median wall time (and items/s); return a result."""
    times: list[float] = []
    result: T | None = None
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    rate = f"  ({items / median:,.0f} items/s)" if items else ""
    print(f"{name}: median {median * 1e3:,.1f} ms of {runs}{rate}")
    assert result is not None
    return result


def peak_memory(name: str, fn: Callable[[], object]) -> int:
    """Print and return the peak Python-heap bytes ``fn`` allocates (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"{name}: peak memory {peak / 2**20:,.1f} MiB")
    return peak


def max_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
