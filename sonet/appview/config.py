"""AppView settings from ``SONET_APPVIEW_*`` environment variables.

With nothing set, the AppView serves http://localhost:2584 as ``did:web:localhost%3A2584``,
keeps its index in ``./sonet-data/appview`` (SQLite, tantivy and the image cache) and reads
the firehose of the PDS at http://localhost:2583 (``SONET_APPVIEW_FIREHOSE_URL``; set
``SONET_APPVIEW_FIREHOSE_IS_RELAY=1`` for a relay, whose commits are not re-verified here;
a PDS read directly also has its existing repos backfilled, or the hosts listed in
``SONET_APPVIEW_BACKFILL_HOSTS``), from ``SONET_APPVIEW_START_CURSOR`` when no cursor is saved;
``SONET_APPVIEW_INGEST=0`` serves an index that another process fills (its search index is then
opened read-only); ``SONET_APPVIEW_WORKERS=N`` serves the read API from N processes sharing the
port (``SO_REUSEPORT``), only the first of which ingests.
Posts of authors with fewer than ``SONET_APPVIEW_FANOUT_THRESHOLD`` (1000) followers are pushed
into their followers' home timelines, which keep about ``SONET_APPVIEW_TIMELINE_LENGTH`` (1000)
items each (:mod:`sonet.appview.ingest.fanout`).
``SONET_APPVIEW_TRUSTED_PDS`` lists (comma-separated) PDS URLs trusted to answer for the handles
under their ``availableUserDomains`` (:mod:`sonet.identity.trusted_handles`); ``sonet serve`` sets
it to its own PDS.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AppviewConfig", "AppviewConfigError"]


class AppviewConfigError(ValueError):
    """An ``SONET_APPVIEW_*`` variable has an unusable value."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _number(
    env: Mapping[str, str], name: str, default: str, kind: type[int] | type[float]
) -> float:
    raw = env.get(name, default)
    try:
        value = kind(raw)
    except ValueError:
        raise AppviewConfigError(f"{name} must be a number, not {raw!r}") from None
    if value < 0:
        raise AppviewConfigError(f"{name} must not be negative")
    return value


def _cursor(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise AppviewConfigError(
            f"SONET_APPVIEW_START_CURSOR must be a sequence number, not {value!r}"
        )
    return int(value)


@dataclass(frozen=True)
class AppviewConfig:
    """Everything the AppView needs to know about itself."""

    hostname: str = "localhost"
    port: int = 2584
    public_url: str = "http://localhost:2584"
    service_did: str = "did:web:localhost%3A2584"
    data_dir: Path = Path("sonet-data/appview")
    database_url: str | None = None
    database_schema: str | None = None
    redis_url: str | None = None
    firehose_url: str | None = "http://localhost:2583"
    firehose_relay: bool = False
    backfill_hosts: tuple[str, ...] = ()
    trusted_pds: tuple[str, ...] = ()
    start_cursor: int | None = None
    plc_url: str = "http://localhost:2582"
    fanout_threshold: int = 1000
    timeline_length: int = 1000
    timeline_cache_ttl: float = 3.0
    trending_window_hours: float = 24.0
    allow_private_network: bool = True
    ingest: bool = True
    workers: int = 1

    @property
    def database(self) -> str:
        """The database URL: configured, or SQLite in the data directory."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'appview.sqlite').resolve()}"

    @property
    def search_dir(self) -> Path:
        """Where the tantivy search index lives."""
        return self.data_dir / "search"

    @property
    def image_cache_dir(self) -> Path:
        """Where resized images are cached."""
        return self.data_dir / "image-cache"

    @property
    def audiences(self) -> tuple[str, ...]:
        """Service-JWT audiences accepted: the DID, and the DID with the AppView's service id."""
        return (self.service_did, f"{self.service_did}#bsky_appview")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AppviewConfig:
        """Read ``SONET_APPVIEW_*`` variables (and ``SONET_PLC_URL``); unset ones take the
        embedded defaults."""
        e = os.environ if env is None else env
        hostname = e.get("SONET_APPVIEW_HOSTNAME", "localhost")
        port = int(_number(e, "SONET_APPVIEW_PORT", "2584", int))
        local = hostname in ("localhost", "127.0.0.1")
        public_url = f"http://{hostname}:{port}" if local else f"https://{hostname}"
        did = f"did:web:localhost%3A{port}" if local else f"did:web:{hostname}"
        firehose = e.get("SONET_APPVIEW_FIREHOSE_URL", "http://localhost:2583")
        return cls(
            hostname=hostname,
            port=port,
            public_url=e.get("SONET_APPVIEW_PUBLIC_URL", public_url).rstrip("/"),
            service_did=e.get("SONET_APPVIEW_DID", did),
            data_dir=Path(e.get("SONET_APPVIEW_DATA_DIR", "sonet-data/appview")),
            database_url=e.get("SONET_APPVIEW_DATABASE_URL") or None,
            redis_url=e.get("SONET_APPVIEW_REDIS_URL") or None,
            firehose_url=firehose or None,
            firehose_relay=_bool(e.get("SONET_APPVIEW_FIREHOSE_IS_RELAY"), default=False),
            backfill_hosts=_list(e.get("SONET_APPVIEW_BACKFILL_HOSTS")),
            trusted_pds=_list(e.get("SONET_APPVIEW_TRUSTED_PDS")),
            start_cursor=_cursor(e.get("SONET_APPVIEW_START_CURSOR")),
            plc_url=e.get("SONET_PLC_URL") or "http://localhost:2582",
            fanout_threshold=int(_number(e, "SONET_APPVIEW_FANOUT_THRESHOLD", "1000", int)),
            timeline_length=int(_number(e, "SONET_APPVIEW_TIMELINE_LENGTH", "1000", int)),
            timeline_cache_ttl=_number(e, "SONET_APPVIEW_TIMELINE_CACHE_TTL", "3", float),
            trending_window_hours=_number(e, "SONET_APPVIEW_TRENDING_HOURS", "24", float),
            allow_private_network=_bool(
                e.get("SONET_APPVIEW_ALLOW_PRIVATE_NETWORK"), default=local
            ),
            ingest=_bool(e.get("SONET_APPVIEW_INGEST"), default=True),
            workers=max(1, int(_number(e, "SONET_APPVIEW_WORKERS", "1", int))),
        )
