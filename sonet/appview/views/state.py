"""What views are built from: every row a request hydrated, and who is looking.

Maps hold what was found; a key that was looked up and not found is simply absent (views then
render "not found"). ``viewer`` is None for an unauthenticated request: no viewer state, no
blocks or mutes of the viewer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sonet.appview.images import ImageUrls
from sonet.storage.appview_read_actors import ActorRow, ProfileAgg
from sonet.storage.appview_read_graph import (
    FeedgenRow,
    ListRow,
    ListViewer,
    StarterPackRow,
)
from sonet.storage.appview_read_posts import (
    GateRow,
    LikeRow,
    PostAgg,
    PostRow,
    PostViewer,
    RecordRow,
    RepostRow,
)
from sonet.storage.appview_read_relations import KnownFollowers, Relation

__all__ = ["HydrationState", "PostBlocks"]


@dataclass(frozen=True, slots=True)
class PostBlocks:
    """Blocks between a post's author and the authors of its parent, root and embedded record
    (third-party blocks, https://docs.bsky.app/docs/advanced-guides/moderation#blocks)."""

    parent: bool = False
    root: bool = False
    embed: bool = False


@dataclass
class HydrationState:
    """Rows hydrated for one request."""

    viewer: str | None
    images: ImageUrls
    actors: dict[str, ActorRow] = field(default_factory=dict)
    profile_aggs: dict[str, ProfileAgg] = field(default_factory=dict)
    relations: dict[str, Relation] = field(default_factory=dict)
    known_followers: dict[str, KnownFollowers] = field(default_factory=dict)
    posts: dict[str, PostRow] = field(default_factory=dict)
    post_aggs: dict[str, PostAgg] = field(default_factory=dict)
    post_viewers: dict[str, PostViewer] = field(default_factory=dict)
    post_blocks: dict[str, PostBlocks] = field(default_factory=dict)
    threadgates: dict[str, GateRow] = field(default_factory=dict)
    """Keyed by the gated (root) post's URI."""
    postgates: dict[str, GateRow] = field(default_factory=dict)
    """Keyed by the gated post's URI."""
    reposts: dict[str, RepostRow] = field(default_factory=dict)
    records: dict[str, RecordRow] = field(default_factory=dict)
    """Records of any collection (notification subjects)."""
    likes: dict[str, LikeRow] = field(default_factory=dict)
    lists: dict[str, ListRow] = field(default_factory=dict)
    list_counts: dict[str, int] = field(default_factory=dict)
    list_viewers: dict[str, ListViewer] = field(default_factory=dict)
    feedgens: dict[str, FeedgenRow] = field(default_factory=dict)
    feedgen_aggs: dict[str, PostAgg] = field(default_factory=dict)
    feedgen_viewers: dict[str, PostViewer] = field(default_factory=dict)
    starter_packs: dict[str, StarterPackRow] = field(default_factory=dict)
    root_author_likes: dict[str, str] = field(default_factory=dict)
    """Post URI -> the thread root author's like of it (``threadContext``)."""
    block_pairs: set[frozenset[str]] = field(default_factory=set)
    """Pairs of actors with a block between them (third-party blocks)."""
    looked_up: set[str] = field(default_factory=set)
    """Keys (DIDs and URIs) already looked up, found or not."""
    views: dict[tuple[str, str, int], Any] = field(default_factory=dict)
    """Views already built (a post shown as an item and as a reply's root is built once);
    callers extending a cached view copy it first."""

    def blocked_between(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` block each other (either way)."""
        return a != b and frozenset((a, b)) in self.block_pairs
