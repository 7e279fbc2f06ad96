"""The backing services the suite relies on are reachable: these fail, never skip."""

from __future__ import annotations

import asyncpg
import redis.asyncio as aioredis


async def test_postgres_reachable(postgres_url: str) -> None:
    conn = await asyncpg.connect(postgres_url, timeout=5)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()


async def test_redis_reachable(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        assert await client.ping()
    finally:
        await client.aclose()
