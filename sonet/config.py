"""Process configuration read from ``SONET_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Config:
    """Settings shared by every role; unset variables give the embedded default."""

    hostname: str = "localhost"
    port: int = 2583
    data_dir: Path = Path("sonet-data")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        """Read the configuration from ``env`` (default: the process environment)."""
        e = os.environ if env is None else env
        return cls(
            hostname=e.get("SONET_HOSTNAME", cls.hostname),
            port=int(e.get("SONET_PORT", str(cls.port))),
            data_dir=Path(e.get("SONET_DATA_DIR", str(cls.data_dir))),
        )
