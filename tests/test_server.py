"""``sonet serve`` as a user runs it: a real process with the PDS and the built-in PLC."""

from __future__ import annotations

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


def test_serve_starts_and_answers_health(tmp_path: Path) -> None:
    pds_port, plc_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "SONET_PORT": str(pds_port),
        "SONET_PLC_PORT": str(plc_port),
        "SONET_DATA_DIR": str(tmp_path / "data"),
    }
    env.pop("SONET_PLC_URL", None)
    env.pop("SONET_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sonet", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{pds_port}/xrpc/_health", timeout=2
                ) as r:
                    assert r.status == 200
                    break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    raise AssertionError(f"server did not start:\n{out}") from None
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{plc_port}/_health", timeout=2) as r:
            assert r.status == 200
        assert (tmp_path / "data" / "pds.sqlite").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
