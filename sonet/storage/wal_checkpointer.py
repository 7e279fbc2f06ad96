"""Checkpoint an SQLite write-ahead log from a background thread.

https://www.sqlite.org/wal.html#automatic_checkpoint: by default the connection whose commit
makes the WAL pass 1,000 pages copies it back into the database file inside that commit, so
every few hundred commits one of them (and every request waiting on it) takes tens of
milliseconds longer. Here a thread with its own connection runs a PASSIVE checkpoint a few times
a second instead: it never blocks the writer or the readers, and the writer's own automatic
checkpoint is pushed far out, left only as a backstop should this thread fall behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Final

__all__ = ["BACKSTOP_PAGES", "WalCheckpointer"]

log = logging.getLogger(__name__)

BACKSTOP_PAGES: Final = 20_000
"""The writer's ``wal_autocheckpoint``: only reached if background checkpoints stop."""

INTERVAL: Final = 0.25


class WalCheckpointer:
    """A daemon thread checkpointing the WAL of the database file at ``path``."""

    def __init__(self, path: str, interval: float = INTERVAL) -> None:
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start checkpointing (once)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"wal-checkpoint {self.path}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for a checkpoint in progress to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning("WAL checkpoints left to the writer: cannot open %s: %s", self.path, exc)
            return
        try:
            conn.execute("PRAGMA busy_timeout=1000")
            while not self._stop.wait(self.interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # e.g. the file went away; try again later
                    log.debug("WAL checkpoint of %s failed: %s", self.path, exc)
        finally:
            conn.close()
