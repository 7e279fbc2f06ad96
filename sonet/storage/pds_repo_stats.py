"""Counting what a hosted repository holds (for com.atproto.server.checkAccountStatus)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sonet.storage.pds_repo_store import repo_block

__all__ = ["count_repo_blocks"]


async def count_repo_blocks(conn: AsyncConnection, did: str) -> int:
    """How many blocks (commits, MST nodes, records) are stored for ``did``."""
    count = await conn.scalar(
        select(func.count()).select_from(repo_block).where(repo_block.c.did == did)
    )
    return int(count or 0)
