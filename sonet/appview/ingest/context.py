"""State shared by the indexers while one batch of events is applied.

Counts (``post_agg``, ``profile_agg``) are kept as in-memory deltas and written once at the end
of the batch (a popular post liked 100 times in a batch costs one statement). A delta is added
only for a row that was really inserted or deleted, so counts stay exact under replays.
Search-index changes and actors whose handle must be resolved are collected for after the
commit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sonet.appview.search.documents import PostDocument
from sonet.storage.appview_index_actors import save_repo_revs
from sonet.storage.appview_index_notifications import any_thread_mute
from sonet.storage.appview_index_state import AggTable, add_counts, count_value
from sonet.storage.appview_steps import Steps

__all__ = ["BatchContext", "IndexConfig"]


@dataclass(frozen=True)
class IndexConfig:
    """Indexing policy. ``fanout_threshold``: authors with fewer followers have their posts and
    reposts pushed into followers' timelines (0 disables pushing); ``timeline_backfill``: how
    many recent items of a followee a new follow copies into the follower's timeline;
    ``timeline_length``: about how many rows a pushed timeline keeps (older items are pulled
    when read; 0: no limit)."""

    fanout_threshold: int = 1000
    timeline_backfill: int = 50
    timeline_length: int = 1000


@dataclass
class BatchContext:
    """Per-batch indexing state; ``indexed_at`` is set for each event before it is applied."""

    config: IndexConfig
    indexed_at: str = ""
    deltas: dict[tuple[AggTable, str, str], int] = field(default_factory=dict)
    post_docs: dict[str, PostDocument | None] = field(default_factory=dict)
    actor_docs: set[str] = field(default_factory=set)
    resolve_handles: set[str] = field(default_factory=set)
    stats: Counter[str] = field(default_factory=Counter)
    known_revs: dict[str, str] = field(default_factory=dict)
    """Repo revs of actors known to exist, as of the last commit (shared across batches;
    ``""``: the actor exists without a rev). Read-only here: :class:`Indexer` updates it."""
    repo_revs: dict[str, tuple[str, str]] = field(default_factory=dict)
    """``did -> (rev, commit CID)`` reached in this batch, written at the end."""
    removed_actors: set[str] = field(default_factory=set)
    thread_mutes: bool | None = None
    """Whether any thread is muted at all (looked up once per batch)."""
    known_timeline_ids: dict[str, int] = field(default_factory=dict)
    """Timeline ids of actors as of the last commit (shared across batches; ids never change
    once given). Read-only here: :class:`Indexer` updates it."""
    timeline_ids: dict[str, int] = field(default_factory=dict)
    """Timeline ids looked up or given in this batch."""

    def bump(self, table: AggTable, key: str, column: str, delta: int) -> None:
        """Add ``delta`` to a count."""
        slot = (table, key, column)
        self.deltas[slot] = self.deltas.get(slot, 0) + delta

    def count(self, table: AggTable, key: str, column: str) -> Steps[int]:
        """The current value of a count, including this batch's pending delta."""
        stored = yield from count_value(table, key, column)
        return stored + self.deltas.get((table, key, column), 0)

    def any_thread_mutes(self) -> Steps[bool]:
        """Whether some account muted some thread (else notifications skip that check)."""
        if self.thread_mutes is None:
            self.thread_mutes = yield from any_thread_mute()
        return self.thread_mutes

    def flush_revs(self) -> Steps[None]:
        """Write the repo revs reached in this batch (creating new actors)."""
        rows = [(did, self.indexed_at, rev, cid) for did, (rev, cid) in self.repo_revs.items()]
        yield from save_repo_revs(rows)

    def flush_counts(self) -> Steps[None]:
        """Write the pending deltas (one upsert statement per table and column)."""
        grouped: dict[tuple[AggTable, str], list[tuple[str, int]]] = {}
        for (table, key, column), delta in self.deltas.items():
            if delta:
                grouped.setdefault((table, column), []).append((key, delta))
        self.deltas.clear()
        for (table, column), rows in grouped.items():
            yield from add_counts(table, column, rows)
