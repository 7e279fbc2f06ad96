"""Shared test fixtures: interop vectors and the real PostgreSQL/Redis services."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def interop_dir() -> Path:
    """The AT Protocol interop vectors: ``$SONET_INTEROP_DIR`` or ``../shared/interop``."""
    return Path(os.environ.get("SONET_INTEROP_DIR", ROOT.parent / "shared" / "interop"))


@pytest.fixture(scope="session")
def interop() -> Path:
    """Path to the interop vectors; skips outside CI when absent, fails in CI."""
    path = interop_dir()
    if not path.is_dir():
        if IN_CI:
            pytest.fail(f"interop vectors missing at {path} (set SONET_INTEROP_DIR)")
        pytest.skip(f"interop vectors not found at {path}; set SONET_INTEROP_DIR")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the real PostgreSQL server the tests use; never skipped."""
    return os.environ.get("SONET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis server the tests use; never skipped."""
    return os.environ.get("SONET_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str):
    """An empty database on each backend: an SQLite file, or a fresh PostgreSQL schema."""
    import uuid

    import asyncpg

    from sonet.storage.database import Database, sqlite_url

    if request.param == "sqlite":
        db = Database.open(sqlite_url(tmp_path / "test.sqlite"))
        yield db
        await db.close()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_url, timeout=5)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        db = Database.open(postgres_url, schema=schema, pool_size=4)
        try:
            yield db
        finally:
            await db.close()
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await admin.close()
