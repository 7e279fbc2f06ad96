"""Relay settings from ``SONET_*`` environment variables.

With nothing set the relay serves on http://localhost:2470, keeps its state in
``$SONET_DATA_DIR/relay.sqlite`` and its event log in ``$SONET_DATA_DIR/relay-events/``, and may
reach loopback hosts (development). Defaults for quotas and limits are those of the reference
relay (bluesky-social/indigo ``cmd/relay``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

__all__ = [
    "EventLogKind",
    "HostQuotas",
    "RelayConfig",
    "RelayMode",
    "default_verify_workers",
    "parse_duration",
]

_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?")
_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
HOUR: Final = 3600.0


def parse_duration(text: str) -> float:
    """Seconds in ``"72h"``, ``"30m"``, ``"15s"``, ``"250ms"``, ``"2d"`` or a bare number."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def default_verify_workers() -> int:
    """One verification process per core: verification is most of a relay's CPU, and the
    workers run at a lower priority than the relay's own process (which takes what it needs
    first), so on a machine of two cores both can verify while the relay is idle."""
    return max(1, os.cpu_count() or 1)


class EventLogKind(StrEnum):
    """Where the re-sequenced event log is kept."""

    DISK = "disk"
    DATABASE = "database"


class RelayMode(StrEnum):
    """``full``: crawl, verify and serve; ``serve``: only serve consumers, fed through Redis."""

    FULL = "full"
    SERVE = "serve"


@dataclass(frozen=True)
class HostQuotas:
    """Event-rate quotas of one host (events per second, hour and day)."""

    per_second: int
    per_hour: int
    per_day: int


@dataclass(frozen=True)
class RelayConfig:
    """Everything the relay needs to know about itself."""

    hostname: str = "localhost"
    port: int = 2470
    data_dir: Path = Path("sonet-data")
    database_url: str | None = None
    database_schema: str | None = None
    event_log: EventLogKind | None = None
    redis_url: str | None = None
    redis_stream: str = "sonet:relay:events"
    mode: RelayMode = RelayMode.FULL
    admin_password: str | None = None
    plc_url: str = "https://plc.directory"
    replay_window: float = 72 * HOUR
    event_log_segment_events: int = 50_000
    lenient_sync_validation: bool = False
    skip_account_host_check: bool = False
    allow_private_hosts: bool = True
    allow_insecure_hosts: bool = True
    disable_request_crawl: bool = False
    check_new_hosts: bool = True
    trusted_domains: tuple[str, ...] = ()
    default_account_limit: int = 100
    trusted_account_limit: int = 10_000_000
    new_hosts_per_day: int = 50
    baseline_per_second: int = 50
    baseline_per_hour: int = 2_500
    baseline_per_day: int = 20_000
    trusted_per_second: int = 5_000
    trusted_per_hour: int = 50_000_000
    trusted_per_day: int = 500_000_000
    future_rev_tolerance: float = 300.0
    identity_refresh_interval: float = 60.0
    verify_workers: int = 1
    consumer_max_lag: int = 16_384
    outbox_linger: float = 0.01
    checkpoint_period: float = 1.0
    reconnect_max_delay: float = 30.0
    max_dial_failures: int = 15
    user_agent: str = "sonet-relay (atproto-relay)"

    @property
    def database(self) -> str:
        """The database URL: configured, or SQLite in the data directory."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'relay.sqlite').resolve()}"

    @property
    def event_log_kind(self) -> EventLogKind:
        """The configured event log, by default on disk with SQLite and in PostgreSQL else."""
        if self.event_log is not None:
            return self.event_log
        return EventLogKind.DISK if self.database.startswith("sqlite") else EventLogKind.DATABASE

    @property
    def event_log_dir(self) -> Path:
        """Where the on-disk event log keeps its segment files."""
        return self.data_dir / "relay-events"

    def quotas(self, account_limit: int, trusted: bool) -> HostQuotas:
        """A host's event quotas: fixed when trusted, else baseline plus a share of its limit."""
        if trusted:
            return HostQuotas(self.trusted_per_second, self.trusted_per_hour, self.trusted_per_day)
        return HostQuotas(
            self.baseline_per_second + account_limit // 1000,
            self.baseline_per_hour + account_limit,
            self.baseline_per_day + account_limit * 10,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RelayConfig:
        """Read ``SONET_*`` variables; unset ones take the defaults."""
        e = os.environ if env is None else env
        hostname = e.get("SONET_HOSTNAME", "localhost")
        local = hostname in ("localhost", "127.0.0.1")
        workers = e.get("SONET_RELAY_VERIFY_WORKERS")
        log_kind = e.get("SONET_RELAY_EVENT_LOG")
        return cls(
            hostname=hostname,
            port=int(e.get("SONET_RELAY_PORT", "2470")),
            data_dir=Path(e.get("SONET_DATA_DIR", "sonet-data")),
            database_url=e.get("SONET_RELAY_DATABASE_URL") or None,
            event_log=EventLogKind(log_kind) if log_kind else None,
            redis_url=e.get("SONET_RELAY_REDIS_URL") or e.get("SONET_REDIS_URL") or None,
            mode=RelayMode(e.get("SONET_RELAY_MODE", "full")),
            admin_password=e.get("SONET_RELAY_ADMIN_PASSWORD")
            or e.get("SONET_ADMIN_PASSWORD")
            or None,
            plc_url=e.get("SONET_PLC_URL") or cls.plc_url,
            replay_window=parse_duration(e.get("SONET_RELAY_REPLAY_WINDOW", "72h")),
            lenient_sync_validation=_bool(e.get("SONET_RELAY_LENIENT_SYNC_VALIDATION"), False),
            allow_private_hosts=_bool(e.get("SONET_RELAY_ALLOW_PRIVATE_HOSTS"), local),
            allow_insecure_hosts=_bool(e.get("SONET_RELAY_ALLOW_INSECURE_HOSTS"), local),
            disable_request_crawl=_bool(e.get("SONET_RELAY_DISABLE_REQUEST_CRAWL"), False),
            trusted_domains=_list(e.get("SONET_RELAY_TRUSTED_DOMAINS")),
            default_account_limit=int(e.get("SONET_RELAY_DEFAULT_ACCOUNT_LIMIT", "100")),
            new_hosts_per_day=int(e.get("SONET_RELAY_NEW_HOSTS_PER_DAY_LIMIT", "50")),
            verify_workers=int(workers) if workers else default_verify_workers(),
        )
