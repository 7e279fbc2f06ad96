"""``SONET_APPVIEW_WORKERS``: read processes share the AppView's port (``SO_REUSEPORT``), answer
while the first process is stopped, and end with it."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp

from sonet.appview.app import serve_appview
from sonet.appview.config import AppviewConfig


def _serve(config: AppviewConfig, ports: Any) -> None:
    asyncio.run(serve_appview(config, ready=ports.put))


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


async def _health(port: int) -> bool:
    """One call on a fresh connection (the kernel picks the process per connection)."""
    timeout = aiohttp.ClientTimeout(total=0.5)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"http://127.0.0.1:{port}/xrpc/_health") as resp,
        ):
            return resp.status == 200
    except (TimeoutError, aiohttp.ClientError):
        return False


async def test_read_workers_share_the_port(tmp_path: Path) -> None:
    config = AppviewConfig(
        hostname="127.0.0.1",
        port=0,
        data_dir=tmp_path,
        service_did="did:web:appview.test",
        firehose_url=None,
        ingest=False,
        workers=2,
    )
    spawn = multiprocessing.get_context("spawn")
    ports = spawn.Queue()
    main = spawn.Process(target=_serve, args=(config, ports))
    main.start()
    assert main.pid is not None
    try:
        port = await asyncio.to_thread(ports.get, True, 60)
        assert await _health(port)
        (worker,) = _children(main.pid)
        os.kill(main.pid, signal.SIGSTOP)
        try:
            deadline = time.monotonic() + 60
            answered = 0
            while answered < 3 and time.monotonic() < deadline:
                answered += await _health(port)
            assert answered == 3  # the read worker, alone
        finally:
            os.kill(main.pid, signal.SIGCONT)
        main.terminate()
        await asyncio.to_thread(main.join, 30)
        assert main.exitcode is not None
        assert not Path(f"/proc/{worker}").exists()  # stopped and reaped with the first one
    finally:
        if main.is_alive():
            main.kill()
            main.join(10)
