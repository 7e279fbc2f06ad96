"""The on-disk search index of posts and actors, updated incrementally by the indexer.

Changes are added to tantivy's writers as they come (a post or actor document replaces the
previous one with the same URI/DID) and committed at most every ``commit_interval`` seconds by a
background task, or on :meth:`SearchIndex.commit`; searches see committed changes. Writers are
used under one lock (a tantivy writer must not be used from two threads at once) and commits run
in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import tantivy

from sonet.appview.search.documents import ActorDocument, PostDocument
from sonet.appview.search.schema import actor_schema, post_schema
from sonet.syntax.datetime import parse_datetime
from sonet.syntax.errors import InvalidSyntaxError

__all__ = ["SearchIndex", "millis", "word_prefixes"]

log = logging.getLogger(__name__)

WRITER_HEAP: Final = 64_000_000
MAX_PREFIX: Final = 24
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def millis(value: str) -> int | None:
    """Milliseconds since the epoch of a datetime string, or None if it is not one."""
    try:
        return int(parse_datetime(value).timestamp() * 1000)
    except (InvalidSyntaxError, OverflowError, ValueError):
        return None


def word_prefixes(*texts: str | None) -> set[str]:
    """Every prefix (up to :data:`MAX_PREFIX` characters) of every lowercase word of ``texts``,
    and of each whole handle-like text (``alice.bsky`` as well as ``alice`` and ``bsky``)."""
    out: set[str] = set()
    for text in texts:
        if not text:
            continue
        lowered = text.lower()
        words = set(_WORD.findall(lowered))
        if " " not in lowered.strip():
            words.add(lowered.strip())
        for word in words:
            for n in range(1, min(len(word), MAX_PREFIX) + 1):
                out.add(word[:n])
    return out


def _post_doc(post: PostDocument) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text("uri", post.uri)
    doc.add_text("author", post.author)
    doc.add_text("text", post.text)
    for name, values in (
        ("langs", post.langs),
        ("tags", post.tags),
        ("mentions", post.mentions),
        ("domains", post.domains),
    ):
        for value in values:
            doc.add_text(name, value.lower() if name != "mentions" else value)
    created = millis(post.created_at)
    doc.add_integer("created_at", created if created is not None else 0)
    return doc


def _actor_doc(actor: ActorDocument) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text("did", actor.did)
    if actor.handle:
        doc.add_text("handle", actor.handle)
    doc.add_text("display_name", actor.display_name)
    doc.add_text("description", actor.description)
    for prefix in word_prefixes(actor.handle, actor.display_name):
        doc.add_text("prefixes", prefix)
    return doc


class SearchIndex:
    """Posts and actors indexes under ``path`` (created if missing). A ``read_only`` index
    (another process's AppView read worker) takes no writer lock; its searchers follow the
    writer's commits on their own (tantivy reloads when the index's ``meta.json`` changes,
    within about half a second)."""

    def __init__(
        self, path: Path | str, *, commit_interval: float = 1.0, read_only: bool = False
    ) -> None:
        root = Path(path)
        (root / "posts").mkdir(parents=True, exist_ok=True)
        (root / "actors").mkdir(parents=True, exist_ok=True)
        self.posts = tantivy.Index(post_schema(), path=str(root / "posts"), reuse=True)
        self.actors = tantivy.Index(actor_schema(), path=str(root / "actors"), reuse=True)
        self.read_only = read_only
        self._post_writer = None if read_only else self.posts.writer(WRITER_HEAP, 1)
        self._actor_writer = None if read_only else self.actors.writer(WRITER_HEAP // 4, 1)
        self.commit_interval = commit_interval
        self._lock = asyncio.Lock()
        self._dirty = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def apply(
        self,
        posts: Mapping[str, PostDocument | None],
        actors: Mapping[str, ActorDocument | None],
    ) -> None:
        """Replace or delete (None) documents by URI / DID."""
        if not posts and not actors:
            return
        post_writer, actor_writer = self._writers()
        async with self._lock:
            for uri, post in posts.items():
                post_writer.delete_documents_by_term("uri", uri)
                if post is not None:
                    post_writer.add_document(_post_doc(post))
            for did, actor in actors.items():
                actor_writer.delete_documents_by_term("did", did)
                if actor is not None:
                    actor_writer.add_document(_actor_doc(actor))
            self._dirty = True
        self._schedule()

    def _writers(self) -> tuple[tantivy.IndexWriter, tantivy.IndexWriter]:
        if self._post_writer is None or self._actor_writer is None:
            raise RuntimeError("this search index was opened read-only")
        return self._post_writer, self._actor_writer

    def _schedule(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._commit_later())

    async def _commit_later(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.commit_interval)
        try:
            await self.commit()
        except Exception:
            log.exception("search index commit failed")

    async def commit(self) -> None:
        """Make every change so far searchable."""
        async with self._lock:
            if not self._dirty:
                return
            self._dirty = False
            await asyncio.to_thread(self._commit_both)

    def _commit_both(self) -> None:
        post_writer, actor_writer = self._writers()
        post_writer.commit()
        actor_writer.commit()
        self.posts.reload()
        self.actors.reload()

    async def close(self) -> None:
        """Commit pending changes and stop the background commits (a commit in progress is
        waited for, never abandoned: its writer thread would outlive it)."""
        if self.read_only:
            return
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self.commit()
        async with self._lock:
            await asyncio.to_thread(self._wait_merges)

    def _wait_merges(self) -> None:
        for writer in self._writers():
            writer.wait_merging_threads()

    def post_count(self) -> int:
        """Committed post documents."""
        return int(self.posts.searcher().num_docs)

    def actor_count(self) -> int:
        """Committed actor documents."""
        return int(self.actors.searcher().num_docs)
