"""What the search index holds for a post and for an actor."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ActorDocument", "PostDocument"]


@dataclass(frozen=True, slots=True)
class PostDocument:
    """A searchable post: ``created_at`` in the preferred datetime form, ``tags`` lowercase
    (facet and record tags), ``mentions`` DIDs, ``domains`` lowercase hosts of linked URLs."""

    uri: str
    author: str
    text: str
    created_at: str
    langs: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ActorDocument:
    """A searchable actor: verified handle (None when invalid) and profile text."""

    did: str
    handle: str | None
    display_name: str = ""
    description: str = ""
