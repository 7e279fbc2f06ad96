"""The relay: verified commits/s re-streamed to 50 subscribers, PDS-to-subscriber latency at a
fixed rate, and memory over a long run.

Run: ``python bench/bench_relay.py [--runs 3] [--soak SECONDS] [--workers N]``.

Four kinds of processes share the machine's 2 cores:

- synthetic PDS hosts (one process, ``--hosts`` aiohttp servers on loopback) streaming
  pre-generated ``#commit`` frames of ``--accounts`` accounts (real K-256 signatures, real sync
  1.1 proofs against repos of ``--records`` records each); the same process serves the accounts'
  DID documents as a PLC directory;
- the relay (``sonet relay``'s code: SQLite state, on-disk event log, ``--workers`` verification
  processes), which crawls every host;
- 50 subscribers (one process): one decodes every frame (seq continuity, latency), the other 49
  read raw bytes only, so that their own cost stays small; each must receive exactly the same
  number of bytes as the decoding one (the relay sends every subscriber the same frames).

Frames are generated once (2 processes, cached in ``$TMPDIR/sonet-bench-relay``). Each commit's
rev is a TID whose timestamp encodes its slot in the schedule, so the decoding subscriber knows
when the PDS was due to send it: latency = received - scheduled. In throughput runs the hosts
send as fast as the relay takes them (TCP back-pressure) and the rate is measured at the
subscribers. Every run starts with a warm-up that is not measured: each account's first commit
(DID resolution, account creation), after which the measured phase starts.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import heapq
import json
import multiprocessing
import os
import socket
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import cbrrr
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sonet.crypto import generate_keypair
from sonet.relay.app import build_relay_app, close_relay, create_relay
from sonet.relay.config import RelayConfig, default_verify_workers
from sonet.syntax.tid import parse_tid, tid_from
from tests.identity.fixtures import plc_style_doc
from tests.relay.synthetic import SyntheticAccount, random_plc_did

SUBSCRIBERS = int(os.environ.get("SONET_BENCH_SUBSCRIBERS", "50"))
GEN_SPACING_US = 100
"""Rev timestamps are this far apart per slot (slot = (timestamp - t0) / spacing)."""
_RECORD = struct.Struct("<QI")
SUBSCRIBE = "/xrpc/com.atproto.sync.subscribeRepos"
ADMIN = ("admin", "bench")


# -- generation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    hosts: int
    accounts: int
    commits: int
    records: int

    def directory(self) -> Path:
        name = f"h{self.hosts}-a{self.accounts}-c{self.commits}-r{self.records}"
        return Path(tempfile.gettempdir()) / "sonet-bench-relay" / name


def _generate_part(args: tuple[Plan, list[int], int, str]) -> list[tuple[str, str, int]]:
    """Build the commits of some accounts; writes ``part<worker>-host<h>.frames`` files."""
    plan, indexes, t0_us, out = args
    directory = Path(out)
    files = {
        h: open(directory / f"part{indexes[0]}-host{h}.frames", "wb")  # noqa: SIM115
        for h in range(plan.hosts)
    }
    docs: list[tuple[str, str, int]] = []
    per_account = plan.commits // plan.accounts
    accounts = []
    for index in indexes:
        key = generate_keypair("k256")
        account = SyntheticAccount(random_plc_did(), key, plan.records)
        accounts.append((index, account))
        docs.append((account.did, key.public_key().multibase(), index % plan.hosts))
    clock = os.getpid() % 1000
    for round_ in range(per_account):  # slot = round * accounts + index: increasing per host
        for index, account in accounts:
            slot = round_ * plan.accounts + index
            rev = tid_from(t0_us + slot * GEN_SPACING_US, clock)
            frame = account.commit(slot + 1, rev=rev)
            files[index % plan.hosts].write(_RECORD.pack(slot, len(frame)) + frame)
    for f in files.values():
        f.close()
    return docs


def _read_records(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as f:
        while header := f.read(_RECORD.size):
            slot, size = _RECORD.unpack(header)
            yield slot, f.read(size)


def generate(plan: Plan) -> Path:
    """Generate (or reuse) the frames of ``plan``; returns their directory."""
    directory = plan.directory()
    if (directory / "meta.json").exists():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    span = (plan.commits + plan.accounts) * GEN_SPACING_US
    t0_us = time.time_ns() // 1000 - span - 60_000_000  # every rev is in the past
    parts = [list(range(i, plan.accounts, 2)) for i in range(2)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        results = pool.map(_generate_part, [(plan, p, t0_us, str(directory)) for p in parts])
    for h in range(plan.hosts):
        sources = [_read_records(directory / f"part{p[0]}-host{h}.frames") for p in parts]
        with open(directory / f"host{h}.frames", "wb") as out:
            for slot, frame in heapq.merge(*sources, key=lambda record: record[0]):
                out.write(_RECORD.pack(slot, len(frame)) + frame)
        for p in parts:
            (directory / f"part{p[0]}-host{h}.frames").unlink()
    docs = [doc for part in results for doc in part]
    (directory / "docs.json").write_text(json.dumps(docs))
    meta = {"plan": asdict(plan), "t0_us": t0_us}
    (directory / "meta.json").write_text(json.dumps(meta))
    took = time.perf_counter() - started
    print(f"generated {plan.commits:,} commits in {took:.0f} s ({plan.commits / took:,.0f}/s)")
    return directory


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


# -- synthetic PDS hosts and PLC directory ------------------------------------------------------


class Host:
    """One synthetic PDS streaming its frames file on schedule (or as fast as it can)."""

    def __init__(self, path: Path, port: int, first_round: int) -> None:
        self.path = path
        self.port = port
        self.first_round = first_round
        self.connected = asyncio.Event()
        self.start_at = 0.0
        self.rate: float | None = None
        self.warm = asyncio.Event()
        self.go = asyncio.Event()
        self.sent = 0
        self.max_behind = 0.0
        self.sent_at: dict[int, float] = {}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/xrpc/com.atproto.server.describeServer", self.describe)
        app.router.add_get(SUBSCRIBE, self.subscribe)
        return app

    async def describe(self, _request: web.Request) -> web.Response:
        return web.json_response({"did": "did:web:localhost", "availableUserDomains": [".test"]})

    async def subscribe(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        self.connected.set()
        await self.warm.wait()
        cursor = int(request.query.get("cursor", "0"))
        for slot, frame in _read_records(self.path):
            if slot + 1 <= cursor:
                continue
            if slot >= self.first_round and not self.go.is_set():
                await self.go.wait()
            if self.rate is not None and slot >= self.first_round:
                due = self.start_at + (slot - self.first_round) / self.rate
                delay = due - time.time()
                if delay > 0.001:
                    await asyncio.sleep(delay)
                else:
                    self.max_behind = max(self.max_behind, -delay)
                self.sent_at[slot] = time.time()
            await ws.send_bytes(frame)
            self.sent += 1
            if self.sent % 64 == 0:
                await asyncio.sleep(0)
        await ws.receive()  # keep the connection open until the relay leaves
        return ws


def serve_hosts(directory: Path, ports: list[int], plc_port: int, conn: Connection) -> None:
    """Child process: the PLC directory and every host."""

    async def main() -> None:
        docs = json.loads((directory / "docs.json").read_text())
        documents: dict[str, bytes] = {}
        for did, multibase, host in docs:
            doc = plc_style_doc(did, None, f"http://localhost:{ports[host]}")
            doc["verificationMethod"][0]["publicKeyMultibase"] = multibase
            documents[did] = json.dumps(doc).encode()

        async def resolve(request: web.Request) -> web.Response:
            body = documents.get(request.match_info["did"])
            if body is None:
                return web.Response(status=404)
            return web.Response(body=body, content_type="application/json")

        plc = web.Application()
        plc.router.add_get("/{did}", resolve)
        accounts = len(docs)
        hosts = [
            Host(directory / f"host{h}.frames", port, accounts) for h, port in enumerate(ports)
        ]
        runners = []
        for app, port in [(plc, plc_port), *[(h.app(), h.port) for h in hosts]]:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            runners.append(runner)
        gc.collect()
        gc.freeze()  # keep the harness's own collector pauses out of the measurement
        conn.send("ready")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # warm up: every account's first commit
        for host in hosts:
            host.warm.set()
        start_at, rate = await loop.run_in_executor(None, conn.recv)
        for host in hosts:
            host.start_at, host.rate = start_at, rate
            host.go.set()
        await loop.run_in_executor(None, conn.recv)  # stop
        conn.send(
            {
                "sent": sum(h.sent for h in hosts),
                "max_behind_ms": max(h.max_behind for h in hosts) * 1e3,
            }
        )
        sent_at: dict[int, float] = {}
        for host in hosts:
            sent_at.update(host.sent_at)
        conn.send(sent_at)
        for runner in runners:
            await runner.cleanup()

    asyncio.run(main())


# -- the relay -----------------------------------------------------------------------------------


def serve_relay(config: RelayConfig, conn: Connection, profile: str | None = None) -> None:
    """Child process: a relay on ``config.port`` (profiled into ``profile`` if given)."""

    gc_pauses: list[float] = []
    if os.environ.get("SONET_BENCH_GC"):
        started: list[float] = []

        def watch(phase: str, _info: dict[str, Any]) -> None:
            if phase == "start":
                started[:] = [time.perf_counter()]
            elif started:
                gc_pauses.append(time.perf_counter() - started[0])

        gc.callbacks.append(watch)

    async def main() -> None:
        relay = await create_relay(config)
        runner = web.AppRunner(build_relay_app(relay), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", config.port).start()
        conn.send("ready")
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        stats = {
            "accepted": sum(relay.stats.accepted.values()),
            "dropped": dict(relay.stats.dropped.most_common(5)),
            "batches": relay.outbox.batches,
            "verify_batches": relay.pool.batches,
            "slow_dropped": relay.broadcaster.dropped_slow,
        }
        if gc_pauses:
            stats["gc"] = {
                "count": len(gc_pauses),
                "max_ms": max(gc_pauses) * 1e3,
                "total_ms": sum(gc_pauses) * 1e3,
            }
        conn.send(stats)
        await runner.cleanup()
        await close_relay(relay)

    if profile is None:
        asyncio.run(main())
        return
    import cProfile

    cProfile.runctx("asyncio.run(main())", globals(), {"main": main, "asyncio": asyncio}, profile)


# -- subscribers ---------------------------------------------------------------------------------


class Subscriber(asyncio.Protocol):
    """A raw WebSocket client. With ``decode`` it parses every frame (answering pings), decodes
    every message and checks seq continuity and latency; without, it only counts bytes and
    keeps the connection alive with unsolicited pongs (RFC 6455 section 5.5.3), which costs
    almost nothing, so 49 of them stand for consumers without loading the machine. All send
    unsolicited pongs, so the relay never pings any of them and all receive the same bytes."""

    def __init__(self, decode: bool, t0_us: int, first_round: int) -> None:
        self.decode = decode
        self.t0_us = t0_us
        self.first_round = first_round
        self.transport: asyncio.Transport | None = None
        self.upgraded = False
        self.buffer = bytearray()
        self.bytes = 0
        self.messages = 0
        self.last_seq = 0
        self.gaps = 0
        self.received: list[tuple[float, int]] = []  # (received, slot) after warm-up
        self.ready = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET {SUBSCRIBE} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        if not self.upgraded:
            self.buffer += data
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            assert b" 101 " in self.buffer[:end]
            data = bytes(self.buffer[end + 4 :])
            self.buffer = bytearray()
            self.upgraded = True
            self.ready.set()
        self.bytes += len(data)
        if not self.decode:
            return
        self.buffer += data
        self._frames()

    def _frames(self) -> None:
        buf = self.buffer
        pos = 0
        while len(buf) - pos >= 2:
            opcode = buf[pos] & 0x0F
            size = buf[pos + 1] & 0x7F
            head = 2
            if size == 126:
                if len(buf) - pos < 4:
                    break
                size = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif size == 127:
                if len(buf) - pos < 10:
                    break
                size = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if len(buf) - pos < head + size:
                break
            payload = bytes(buf[pos + head : pos + head + size])
            pos += head + size
            if opcode == 0x9:
                self.pong(payload)
            elif opcode == 0x2:
                self.messages += 1
                self._message(payload)
        del buf[:pos]

    def pong(self, payload: bytes = b"") -> None:
        """Send a (masked) pong frame."""
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert self.transport is not None and len(payload) < 126
        self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)

    def _message(self, payload: bytes) -> None:
        items: list[Any] = list(cbrrr.decode_multi_dag_cbor_in_violation_of_the_spec(payload))
        body: dict[str, Any] = items[1]
        if body.get("seq", 0) != self.last_seq + 1:
            self.gaps += 1
        self.last_seq = body.get("seq", self.last_seq)
        if "rev" not in body:
            return
        slot = (parse_tid(body["rev"])[0] - self.t0_us) // GEN_SPACING_US
        if slot >= self.first_round:
            self.received.append((time.time(), slot))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True


def _same(subscriber: Subscriber) -> Subscriber:
    return subscriber


def run_subscribers(port: int, t0_us: int, first_round: int, conn: Connection) -> None:
    """Child process: the 50 subscribers."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        subscribers = [Subscriber(i == 0, t0_us, first_round) for i in range(SUBSCRIBERS)]
        for subscriber in subscribers:
            await loop.create_connection(partial(_same, subscriber), "127.0.0.1", port)
            await subscriber.ready.wait()
        gc.collect()
        gc.freeze()
        gc.set_threshold(100_000, 50, 1_000)  # the latency list grows: no full passes over it
        conn.send("ready")
        expected, deadline = await loop.run_in_executor(None, conn.recv)
        measuring = subscribers[0]
        last_pong = time.monotonic()
        while measuring.messages < expected and time.time() < deadline:
            if time.monotonic() - last_pong > 10:  # heartbeats: the relay never needs to ping
                for subscriber in subscribers:
                    subscriber.pong()
                last_pong = time.monotonic()
            if any(getattr(s, "closed", False) for s in subscribers):
                break  # a subscriber was disconnected: the run is incomplete
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # let the other subscribers read the last frames
        conn.send(
            {
                "messages": measuring.messages,
                "gaps": measuring.gaps,
                "received": measuring.received,
                "bytes": [s.bytes for s in subscribers],
            }
        )

    asyncio.run(main())


# -- measuring -----------------------------------------------------------------------------------


def process_tree_rss(pid: int) -> float:
    """RSS (MiB) of ``pid`` and its descendants."""
    total = 0
    for member in _descendants(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree = {pid}
    changed = True
    while changed:
        changed = False
        for child, parent in parents.items():
            if parent in tree and child not in tree:
                tree.add(child)
                changed = True
    return tree


def cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU seconds of ``pid`` and each of its descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for member in _descendants(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[member] = (int(fields[11]) + int(fields[12])) / ticks
    return out


@dataclass
class RunResult:
    rate: float | None
    delivered: int
    seconds: float
    """From the start of the measured phase to the last message received."""
    throughput: float
    p50_ms: float
    p99_ms: float
    rss: list[tuple[float, float]]
    complete: bool
    relay_cpu: float
    """CPU seconds per measured commit (main process)."""
    workers_cpu: float
    details: dict[str, Any]


async def _wait_for_seq(relay_port: int, seq: int) -> None:
    headers = {"Authorization": aiohttp.encode_basic_auth(*ADMIN)}
    async with aiohttp.ClientSession() as session:
        while True:
            url = f"http://127.0.0.1:{relay_port}/admin/stats"
            async with session.get(url, headers=headers) as resp:
                if (await resp.json())["seq"] >= seq:
                    return
            await asyncio.sleep(0.1)


async def _crawl(relay_port: int, host_ports: list[int]) -> None:
    headers = {"Authorization": aiohttp.encode_basic_auth(*ADMIN)}
    async with aiohttp.ClientSession() as session:
        for port in host_ports:
            async with session.post(
                f"http://127.0.0.1:{relay_port}/admin/pds/requestCrawl",
                json={"hostname": f"localhost:{port}"},
                headers=headers,
            ) as resp:
                assert resp.status == 200, await resp.text()


def run_once(
    directory: Path, rate: float | None, workers: int, sample_every: float = 5.0
) -> RunResult:
    """One run: fresh relay, all hosts, 50 subscribers; ``rate`` None means as fast as possible."""
    meta = json.loads((directory / "meta.json").read_text())
    plan = Plan(**meta["plan"])
    context = multiprocessing.get_context("spawn")
    relay_port, plc_port, *host_ports = free_ports(2 + plan.hosts)
    data_dir = Path(tempfile.mkdtemp(prefix="sonet-bench-relay-data-"))
    config = RelayConfig(
        port=relay_port,
        data_dir=data_dir,
        plc_url=f"http://localhost:{plc_port}",
        admin_password=ADMIN[1],
        allow_private_hosts=True,
        trusted_domains=("*",),
        verify_workers=workers,
        check_new_hosts=True,
    )
    hosts_end, hosts_child = context.Pipe()
    relay_end, relay_child = context.Pipe()
    subs_end, subs_child = context.Pipe()
    hosts = context.Process(target=serve_hosts, args=(directory, host_ports, plc_port, hosts_child))
    profile = os.environ.get("SONET_BENCH_PROFILE")
    relay = context.Process(target=serve_relay, args=(config, relay_child, profile))
    hosts.start()
    relay.start()
    assert hosts_end.recv() == "ready" and relay_end.recv() == "ready"
    assert relay.pid is not None
    asyncio.run(_crawl(relay_port, host_ports))
    subscribers = context.Process(
        target=run_subscribers, args=(relay_port, meta["t0_us"], plan.accounts, subs_child)
    )
    subscribers.start()
    assert subs_end.recv() == "ready"
    time.sleep(1.0)  # let the relay settle on every host connection
    hosts_end.send("warm")  # new accounts: DID resolution and account rows, not measured
    asyncio.run(_wait_for_seq(relay_port, plan.accounts))
    expected = plan.commits // plan.accounts * plan.accounts
    start_at = time.time() + 0.5
    duration = (expected - plan.accounts) / rate if rate else 600.0
    deadline = start_at + duration + 120
    cpu_before = cpu_seconds(relay.pid)
    assert hosts.pid is not None and subscribers.pid is not None
    others_before = {"hosts": cpu_seconds(hosts.pid), "subscribers": cpu_seconds(subscribers.pid)}
    hosts_end.send((start_at, rate))
    subs_end.send((expected, deadline))
    rss: list[tuple[float, float]] = []
    while not subs_end.poll(sample_every):
        rss.append((time.time() - start_at, process_tree_rss(relay.pid)))
    consumed = subs_end.recv()
    cpu_after = cpu_seconds(relay.pid)
    others = {
        name: sum(cpu_seconds(pid)[pid] for pid in [process.pid]) - before[process.pid]
        for name, before, process in (
            ("hosts", others_before["hosts"], hosts),
            ("subscribers", others_before["subscribers"], subscribers),
        )
        if process.pid is not None
    }
    relay_cpu = cpu_after[relay.pid] - cpu_before.get(relay.pid, 0.0)
    workers_cpu = sum(
        used - cpu_before.get(pid, 0.0) for pid, used in cpu_after.items() if pid != relay.pid
    )
    relay_end.send("stop")
    relay_stats = relay_end.recv()
    hosts_end.send("stop")
    host_stats = hosts_end.recv()
    sent_at: dict[int, float] = hosts_end.recv()
    for process in (subscribers, relay, hosts):
        process.join(30)
    received = consumed["received"]
    dump = os.environ.get("SONET_BENCH_DUMP")
    if dump:
        Path(dump).write_text(json.dumps(received))
    if rate is None:  # from the first to the last message of the measured phase
        span = received[-1][0] - received[0][0] if len(received) > 1 else 0.0
        throughput = (len(received) - 1) / span if span > 0 else 0.0
    else:
        span = received[-1][0] - start_at if received else 0.0
        throughput = len(received) / span if span > 0 else 0.0
    # PDS-to-subscriber latency: from the moment the host sent the frame (scheduled runs)
    latencies = sorted(at - sent_at[slot] for at, slot in received if slot in sent_at)
    qs = statistics.quantiles(latencies, n=100) if len(latencies) > 2 else [0.0] * 99
    if rate:
        lags = sorted(
            sent_at[slot] - (start_at + (slot - plan.accounts) / rate)
            for _, slot in received
            if slot in sent_at
        )
        host_stats["send_lag_p99_ms"] = statistics.quantiles(lags, n=100)[98] * 1e3
    byte_counts = consumed["bytes"]
    complete = (
        consumed["messages"] == expected and consumed["gaps"] == 0 and len(set(byte_counts)) == 1
    )
    return RunResult(
        rate=rate,
        delivered=consumed["messages"],
        seconds=received[-1][0] - start_at if received else 0.0,
        throughput=throughput,
        p50_ms=qs[49] * 1e3,
        p99_ms=qs[98] * 1e3,
        rss=rss,
        complete=complete,
        relay_cpu=relay_cpu / max(len(received), 1),
        workers_cpu=workers_cpu / max(len(received), 1),
        details={
            "relay": relay_stats,
            "hosts": host_stats,
            "bytes": sorted(set(byte_counts)),
            "cpu_s": {k: round(v, 1) for k, v in others.items()},
            "loadavg_1m": round(os.getloadavg()[0], 2),
        },
    )


def describe(result: RunResult) -> str:
    mode = f"{result.rate:,.0f}/s scheduled" if result.rate else "max rate"
    rss = [r for _, r in result.rss]
    rss_text = f"RSS {rss[0]:,.0f} -> {max(rss):,.0f} -> {rss[-1]:,.0f} MiB" if rss else ""
    return (
        f"[{mode}] delivered {result.delivered:,} to {SUBSCRIBERS} subscribers in "
        f"{result.seconds:,.1f} s; steady {result.throughput:,.0f} commits/s; "
        f"latency p50 {result.p50_ms:,.1f} ms p99 {result.p99_ms:,.1f} ms; "
        f"relay CPU per commit: main {result.relay_cpu * 1e6:,.0f} us"
        f" + workers {result.workers_cpu * 1e6:,.0f} us; "
        f"{rss_text}; complete={result.complete}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=1_000.0)
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of the memory run")
    parser.add_argument(
        "--workers", type=int, default=default_verify_workers(), help="as `sonet relay`: 1 per core"
    )
    parser.add_argument("--only", choices=["throughput", "latency", "soak"], default=None)
    args = parser.parse_args()

    plan = Plan(args.hosts, args.accounts, args.commits, args.records)
    throughputs = []
    for _ in range(args.runs if args.only in (None, "throughput") else 0):
        directory = generate(plan)
        result = run_once(directory, None, args.workers)
        print(describe(result), flush=True)
        print(f"  {result.details}", flush=True)
        throughputs.append(result.throughput)
    if throughputs:
        print(
            f"median verified commits/s to {SUBSCRIBERS} subscribers: {statistics.median(throughputs):,.0f}"
        )

    latency_plan = Plan(
        args.hosts,
        args.accounts,
        max(args.accounts, int(args.rate * args.latency_seconds)),
        args.records,
    )
    p50s, p99s = [], []
    for _ in range(args.runs if args.only in (None, "latency") else 0):
        latency_dir = generate(latency_plan)
        result = run_once(latency_dir, args.rate, args.workers)
        print(describe(result), flush=True)
        print(f"  {result.details}", flush=True)
        p50s.append(result.p50_ms)
        p99s.append(result.p99_ms)
    if p50s:
        print(
            f"median latency at {args.rate:,.0f}/s: p50 {statistics.median(p50s):,.1f} ms, "
            f"p99 {statistics.median(p99s):,.1f} ms"
        )

    if args.soak > 0 and args.only in (None, "soak"):
        soak_plan = Plan(args.hosts, args.accounts, int(args.rate * args.soak), args.records)
        soak_dir = generate(soak_plan)
        result = run_once(soak_dir, args.rate, args.workers, sample_every=30.0)
        print(describe(result), flush=True)
        print("  RSS over time (s, MiB): " + ", ".join(f"{t:.0f}:{r:.0f}" for t, r in result.rss))


if __name__ == "__main__":
    main()
