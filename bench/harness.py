"""Shared measuring helpers for the benchmarks: rates, latency percentiles, peak memory.

Every benchmark prints lines of the form ``name: N ops/s  p50 X us  p99 Y us`` so figures from
different runs and modules read the same way. Benchmarks run as scripts
(``python bench/bench_x.py``) put the repository root on ``sys.path`` to import this module.
"""

from __future__ import annotations

import asyncio
import gc
import resource
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from multiprocessing.connection import Connection
from typing import TypeVar

T = TypeVar("T")


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    """``(p50, p99)`` of ``samples`` (the sample itself when there is only one)."""
    if len(samples) < 2:
        return samples[0], samples[0]
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49], cuts[98]


def measure(name: str, fn: Callable[[], object], *, seconds: float = 1.0, batch: int = 1) -> float:
    """Call ``fn`` repeatedly for about ``seconds``; print and return ops/s (``batch`` ops/call)."""
    fn()  # warm up
    samples: list[float] = []
    cpu_start = time.process_time()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 5:
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    cpu = time.process_time() - cpu_start
    rate = batch * len(samples) / sum(samples)
    p50, p99 = percentiles(samples)
    print(
        f"{name}: {rate:,.0f} ops/s  p50 {p50 * 1e6 / batch:,.1f} us  p99 {p99 * 1e6 / batch:,.1f} us"
        f"  ({batch * len(samples) / cpu:,.0f} per CPU-second)"
    )
    return rate


def throughput(
    fn: Callable[[], object], *, seconds: float = 1.0, repeat: int = 3, batch: int = 100
) -> float:
    """Calls per second of ``fn``: the best of ``repeat`` runs of about ``seconds`` each, the
    clock read once per ``batch`` calls (for operations too quick to time one by one)."""
    best = 0.0
    for _ in range(repeat):
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for _ in range(batch):
                fn()
            calls += batch
        best = max(best, calls / elapsed)
    return best


async def closed_loop(
    calls: Sequence[Callable[[], Awaitable[object]]], seconds: float
) -> tuple[float, list[float]]:
    """Each of ``calls`` awaited again and again by its own worker for ``seconds`` (each worker
    waits for one answer before asking again); returns completed calls/s and their latencies."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(call: Callable[[], Awaitable[object]]) -> None:
        while (start := time.perf_counter()) < deadline:
            await call()
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    await asyncio.gather(*(worker(call) for call in calls))
    return len(latencies) / (time.perf_counter() - started), latencies


def timings(fn: Callable[[], T], *, runs: int) -> tuple[list[float], T]:
    """Wall times of ``runs`` calls of ``fn`` (after a garbage collection each) and the last
    result."""
    times: list[float] = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def median_time(name: str, fn: Callable[[], T], *, runs: int = 3, items: int = 0) -> T:
    """Run ``fn`` ``runs`` times; print the median wall time (and items/s); return a result."""
    times, result = timings(fn, runs=runs)
    median = statistics.median(times)
    rate = f"  ({items / median:,.0f} items/s)" if items else ""
    print(f"{name}: median {median * 1e3:,.1f} ms of {runs}{rate}")
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
    shown = f"{peak / 2**20:,.1f} MiB" if peak >= 2**20 else f"{peak / 1024:,.1f} KiB"
    print(f"{name}: peak memory {shown}")
    return peak


def server_cpu(conn: Connection, run: Callable[[], T], *, ask: object = True) -> tuple[T, float]:
    """``run()``'s result and the CPU seconds a server process spent meanwhile; the server
    answers each ``ask`` sent on ``conn`` with its CPU time so far."""
    conn.send(ask)
    before: float = conn.recv()
    result = run()
    conn.send(ask)
    return result, conn.recv() - before


def max_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
