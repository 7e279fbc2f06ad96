"""Counters of what the relay received, accepted and dropped, per host and reason."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RelayStats"]

log = logging.getLogger("sonet.relay.drops")


@dataclass
class RelayStats:
    """Per-host counters: ``received[(host, type)]``, ``accepted[(host, type)]``,
    ``dropped[(host, reason)]`` and ``warnings[(host, reason)]`` (lenient-mode acceptances)."""

    received: Counter[tuple[str, str]] = field(default_factory=Counter)
    accepted: Counter[tuple[str, str]] = field(default_factory=Counter)
    dropped: Counter[tuple[str, str]] = field(default_factory=Counter)
    warnings: Counter[tuple[str, str]] = field(default_factory=Counter)

    def drop(self, host: str, reason: str, message: str, did: str | None = None) -> None:
        """Count and log a dropped event."""
        self.dropped[(host, reason)] += 1
        log.info("dropped event from %s (%s) did=%s: %s", host, reason, did, message)

    def warn(self, host: str, reason: str, did: str | None = None) -> None:
        """Count an event accepted despite a failed strict check."""
        self.warnings[(host, reason)] += 1
        log.info("accepted event from %s despite %s did=%s", host, reason, did)

    def drops_for(self, host: str) -> dict[str, int]:
        """Dropped counts of one host by reason."""
        return {reason: n for (h, reason), n in self.dropped.items() if h == host}

    def summary(self, host: str) -> dict[str, Any]:
        """All counters of one host."""
        return {
            "received": {k: n for (h, k), n in self.received.items() if h == host},
            "accepted": {k: n for (h, k), n in self.accepted.items() if h == host},
            "dropped": self.drops_for(host),
            "warnings": {k: n for (h, k), n in self.warnings.items() if h == host},
        }
