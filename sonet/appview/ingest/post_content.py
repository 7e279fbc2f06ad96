"""What the index keeps of a post record's content: embed kinds, facets, tags, link domains.

https://atproto.com/lexicons/app-bsky-feed#appbskyfeedpost and ``app.bsky.embed.*``,
``app.bsky.richtext.facet``: mentions (DIDs), links (URIs) and hashtags (lowercased here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "EmbedSummary",
    "FacetSummary",
    "facet_features",
    "link_domain",
    "summarize_embed",
    "summarize_facets",
]

_EMBED = "app.bsky.embed."
_MEDIA = {"images": "images", "external": "external", "video": "video"}


@dataclass(frozen=True, slots=True)
class EmbedSummary:
    """``kind`` of the embed, ``media`` kind (including a recordWithMedia's), the embedded
    record's URI/CID, and the external link's URI."""

    kind: str | None = None
    media: str | None = None
    record_uri: str | None = None
    record_cid: str | None = None
    external_uri: str | None = None


def _type(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    t = value.get("$type")
    return t.removeprefix(_EMBED) if isinstance(t, str) and t.startswith(_EMBED) else None


def _external_uri(embed: dict[str, Any]) -> str | None:
    external = embed.get("external")
    uri = external.get("uri") if isinstance(external, dict) else None
    return uri if isinstance(uri, str) else None


def summarize_embed(embed: Any) -> EmbedSummary:
    """The summary of a post's ``embed`` (empty when absent or unknown)."""
    kind = _type(embed)
    if kind is None or not isinstance(embed, dict):
        return EmbedSummary()
    if kind in _MEDIA:
        external = _external_uri(embed) if kind == "external" else None
        return EmbedSummary(kind, _MEDIA[kind], external_uri=external)
    ref: Any = None
    media: Any = None
    if kind == "record":
        ref = embed.get("record")
    elif kind == "recordWithMedia":
        inner = embed.get("record")
        ref = inner.get("record") if isinstance(inner, dict) else None
        media = embed.get("media")
    else:
        return EmbedSummary(kind)
    media_kind = _type(media)
    uri = ref.get("uri") if isinstance(ref, dict) else None
    cid = ref.get("cid") if isinstance(ref, dict) else None
    return EmbedSummary(
        kind,
        _MEDIA.get(media_kind or ""),
        uri if isinstance(uri, str) else None,
        cid if isinstance(cid, str) else None,
        _external_uri(media) if media_kind == "external" else None,
    )


@dataclass(frozen=True, slots=True)
class FacetSummary:
    """Distinct mentions, links and lowercase tags (facet tags and the record's ``tags``)."""

    mentions: tuple[str, ...]
    links: tuple[str, ...]
    tags: tuple[str, ...]


def facet_features(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every facet feature (mention, link, tag...) of a post record."""
    features: list[dict[str, Any]] = []
    for facet in record.get("facets") or ():
        if isinstance(facet, dict):
            features.extend(f for f in facet.get("features") or () if isinstance(f, dict))
    return features


def _add(seen: list[str], value: Any) -> None:
    if isinstance(value, str) and value and value not in seen:
        seen.append(value)


def summarize_facets(record: dict[str, Any]) -> FacetSummary:
    """The facets of a post record."""
    mentions: list[str] = []
    links: list[str] = []
    tags: list[str] = []
    for feature in facet_features(record):
        kind = feature.get("$type")
        if kind == "app.bsky.richtext.facet#mention":
            _add(mentions, feature.get("did"))
        elif kind == "app.bsky.richtext.facet#link":
            _add(links, feature.get("uri"))
        elif kind == "app.bsky.richtext.facet#tag":
            tag = feature.get("tag")
            _add(tags, tag.lower() if isinstance(tag, str) else None)
    for tag in record.get("tags") or ():
        _add(tags, tag.lower() if isinstance(tag, str) else None)
    return FacetSummary(tuple(mentions), tuple(links), tuple(tags))


def link_domain(uri: str) -> str | None:
    """The lowercase host of a URL, without ``www.``; None if it has none."""
    try:
        host = urlsplit(uri).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host.removeprefix("www.")
