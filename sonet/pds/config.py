"""PDS settings from ``SONET_*`` environment variables (see README's configuration table).

With nothing set, the PDS runs on http://localhost:2583 with handles under ``.test``, data in
``./sonet-data`` and the built-in PLC directory.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PdsConfig"]


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


@dataclass(frozen=True)
class PdsConfig:
    """Everything the PDS needs to know about itself."""

    hostname: str = "localhost"
    port: int = 2583
    data_dir: Path = Path("sonet-data")
    public_url: str = "http://localhost:2583"
    service_did: str = "did:web:localhost"
    user_domains: tuple[str, ...] = (".test",)
    plc_url: str | None = None
    database_url: str | None = None
    database_schema: str | None = None
    redis_url: str | None = None
    admin_password: str | None = None
    jwt_secret: str = field(default="", repr=False)
    appview_url: str | None = None
    appview_did: str | None = None
    chat_url: str | None = None
    chat_did: str | None = None
    mod_service_url: str | None = None
    mod_service_did: str | None = None
    report_service_url: str | None = None
    report_service_did: str | None = None
    invite_required: bool = False
    blob_upload_limit: int = 50 * 1024 * 1024
    smtp_url: str | None = None
    email_from: str = "noreply@localhost"
    crawlers: tuple[str, ...] = ()
    allow_private_network: bool = True
    firehose_retention_hours: float = 72.0
    max_import_size: int = 256 * 1024 * 1024
    dev_mode: bool = True

    @property
    def database(self) -> str:
        """The database URL: configured, or SQLite in the data directory."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'pds.sqlite').resolve()}"

    @property
    def blobs_dir(self) -> Path:
        """Where blob bytes are stored on disk."""
        return self.data_dir / "blobs"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PdsConfig:
        """Read ``SONET_*`` variables; unset ones take the embedded defaults."""
        e = os.environ if env is None else env
        hostname = e.get("SONET_HOSTNAME", "localhost")
        port = int(e.get("SONET_PORT", "2583"))
        local = hostname in ("localhost", "127.0.0.1")
        data_dir = Path(e.get("SONET_DATA_DIR", "sonet-data"))
        default_url = f"http://{hostname}:{port}" if local else f"https://{hostname}"
        service_did = f"did:web:{hostname}" if not local else f"did:web:localhost%3A{port}"
        return cls(
            hostname=hostname,
            port=port,
            data_dir=data_dir,
            public_url=e.get("SONET_PUBLIC_URL", default_url).rstrip("/"),
            service_did=e.get("SONET_SERVICE_DID", service_did),
            user_domains=_list(e.get("SONET_USER_DOMAINS"))
            or ((".test",) if local else (f".{hostname}",)),
            plc_url=e.get("SONET_PLC_URL") or None,
            database_url=e.get("SONET_DATABASE_URL") or None,
            database_schema=e.get("SONET_DATABASE_SCHEMA") or None,
            redis_url=e.get("SONET_REDIS_URL") or None,
            admin_password=e.get("SONET_ADMIN_PASSWORD") or None,
            jwt_secret=e.get("SONET_JWT_SECRET", ""),
            appview_url=e.get("SONET_APPVIEW_URL") or None,
            appview_did=e.get("SONET_APPVIEW_DID") or None,
            chat_url=e.get("SONET_CHAT_URL") or None,
            chat_did=e.get("SONET_CHAT_DID") or None,
            mod_service_url=e.get("SONET_MOD_SERVICE_URL") or None,
            mod_service_did=e.get("SONET_MOD_SERVICE_DID") or None,
            report_service_url=e.get("SONET_REPORT_SERVICE_URL") or None,
            report_service_did=e.get("SONET_REPORT_SERVICE_DID") or None,
            invite_required=_bool(e.get("SONET_INVITE_REQUIRED")),
            blob_upload_limit=int(e.get("SONET_BLOB_UPLOAD_LIMIT", cls.blob_upload_limit)),
            smtp_url=e.get("SONET_SMTP_URL") or None,
            email_from=e.get("SONET_EMAIL_FROM", f"noreply@{hostname}"),
            crawlers=_list(e.get("SONET_CRAWLERS")),
            allow_private_network=_bool(e.get("SONET_ALLOW_PRIVATE_NETWORK"), default=local),
            dev_mode=_bool(e.get("SONET_DEV_MODE"), default=local),
            firehose_retention_hours=float(
                e.get("SONET_FIREHOSE_RETENTION_HOURS", cls.firehose_retention_hours)
            ),
            max_import_size=int(e.get("SONET_MAX_IMPORT_SIZE", cls.max_import_size)),
        )

    def with_secret(self) -> PdsConfig:
        """This config with a JWT secret: configured, or made once and kept in the data dir."""
        if self.jwt_secret:
            return self
        path = self.data_dir / "jwt-secret"
        if path.exists():
            secret = path.read_text().strip()
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            secret = secrets.token_hex(32)
            path.write_text(secret)
            path.chmod(0o600)
        from dataclasses import replace

        return replace(self, jwt_secret=secret)
