"""Feeds the indexer's changes into the search index after each committed batch.

Post documents come ready from the post indexer. Actor documents are rebuilt from the database
(verified handle, profile display name and description); an actor that is gone, taken down or
not active upstream is removed from actor search until it is visible again.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import bindparam, text

from sonet.appview.search.documents import ActorDocument, PostDocument
from sonet.appview.search.index import SearchIndex
from sonet.storage.database import Database

__all__ = ["SearchUpdater"]

_ACTORS = text(
    "SELECT a.did, a.handle, a.upstream_status, a.takedown_ref, p.display_name, p.description "
    "FROM actor a LEFT JOIN profile p ON p.creator = a.did WHERE a.did IN :dids"
).bindparams(bindparam("dids", expanding=True))


class SearchUpdater:
    """The indexer's search sink over ``index``, reading actors from ``db``."""

    def __init__(self, db: Database, index: SearchIndex) -> None:
        self.db = db
        self.index = index

    async def actor_documents(self, dids: set[str]) -> dict[str, ActorDocument | None]:
        """Current documents of ``dids`` (None: not searchable)."""
        found: dict[str, ActorDocument | None] = dict.fromkeys(dids)
        if not dids:
            return found
        async with self.db.read() as conn:
            rows = (await conn.execute(_ACTORS, {"dids": sorted(dids)})).all()
        for did, handle, status, takedown, name, description in rows:
            if status is None and takedown is None:
                found[did] = ActorDocument(did, handle, name or "", description or "")
        return found

    async def index_changes(
        self, posts: Mapping[str, PostDocument | None], actors: set[str]
    ) -> None:
        """Apply post changes and refresh the documents of ``actors``."""
        await self.index.apply(posts, await self.actor_documents(actors))

    async def refresh_actors(self, dids: set[str]) -> None:
        """Refresh actor documents only."""
        await self.index_changes({}, dids)
