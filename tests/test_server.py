"""``sonet serve`` as a user runs it: a real process with the PDS, the built-in PLC directory and
the AppView; an account made on the PDS shows in the AppView with its ``.test`` handle."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                assert r.status == 200
                return
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.terminate()
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise AssertionError(f"{url} did not answer:\n{out}") from None
            time.sleep(0.2)


def _call(url: str, body: dict[str, str] | None = None) -> dict[str, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        result: dict[str, object] = json.load(r)
        return result


def _shown_handle(appview: str, did: str, timeout: float = 30) -> object:
    deadline = time.time() + timeout
    while True:
        try:
            profile = _call(f"{appview}/xrpc/app.bsky.actor.getProfile?actor={did}")
        except OSError:  # not indexed yet
            profile = {}
        if profile.get("handle") not in (None, "handle.invalid") or time.time() > deadline:
            return profile.get("handle")
        time.sleep(0.2)


def test_serve_starts_every_role(tmp_path: Path) -> None:
    pds_port, plc_port, appview_port = _free_port(), _free_port(), _free_port()
    env = {
        **os.environ,
        "SONET_PORT": str(pds_port),
        "SONET_PLC_PORT": str(plc_port),
        "SONET_APPVIEW_PORT": str(appview_port),
        "SONET_DATA_DIR": str(tmp_path / "data"),
    }
    for key in ("SONET_PLC_URL", "SONET_APPVIEW_URL", "SONET_DATABASE_URL"):
        env.pop(key, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sonet", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{pds_port}/xrpc/_health", proc)
        _wait_healthy(f"http://127.0.0.1:{plc_port}/_health", proc)
        _wait_healthy(f"http://127.0.0.1:{appview_port}/xrpc/_health", proc)
        assert (tmp_path / "data" / "pds.sqlite").exists()
        made = _call(
            f"http://127.0.0.1:{pds_port}/xrpc/com.atproto.server.createAccount",
            {"handle": "alice.test", "email": "alice@example.com", "password": "serve-password"},
        )
        did = str(made["did"])
        assert _shown_handle(f"http://127.0.0.1:{appview_port}", did) == "alice.test"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
