"""Views of media embeds: ``app.bsky.embed.images#view``, ``app.bsky.embed.video#view`` and
``app.bsky.embed.external#view`` (https://atproto.com/lexicons/app-bsky-embed).

Blob references become the AppView's image URLs (``feed_thumbnail``/``feed_fullsize`` presets,
as the reference AppView uses them); a malformed entry is skipped rather than failing the view.
"""

from __future__ import annotations

from typing import Any

from sonet.appview.images import ImageUrls
from sonet.appview.ingest.graph import blob_cid

__all__ = ["media_view"]

_IMAGES = "app.bsky.embed.images"
_VIDEO = "app.bsky.embed.video"
_EXTERNAL = "app.bsky.embed.external"


def _aspect(value: Any) -> dict[str, int] | None:
    if isinstance(value, dict):
        width, height = value.get("width"), value.get("height")
        if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
            return {"width": width, "height": height}
    return None


def _images(urls: ImageUrls, did: str, embed: dict[str, Any]) -> dict[str, Any]:
    views = []
    for img in embed.get("images") or ():
        cid = blob_cid(img.get("image")) if isinstance(img, dict) else None
        if cid is None:
            continue
        view: dict[str, Any] = {
            "thumb": urls.image("feed_thumbnail", did, cid),
            "fullsize": urls.image("feed_fullsize", did, cid),
            "alt": img.get("alt") if isinstance(img.get("alt"), str) else "",
        }
        if (aspect := _aspect(img.get("aspectRatio"))) is not None:
            view["aspectRatio"] = aspect
        views.append(view)
    return {"$type": f"{_IMAGES}#view", "images": views}


def _video(urls: ImageUrls, did: str, embed: dict[str, Any]) -> dict[str, Any] | None:
    cid = blob_cid(embed.get("video"))
    if cid is None:
        return None
    view: dict[str, Any] = {
        "$type": f"{_VIDEO}#view",
        "cid": cid,
        "playlist": urls.video_playlist(did, cid),
        "thumbnail": urls.video_thumbnail(did, cid),
    }
    if isinstance(embed.get("alt"), str):
        view["alt"] = embed["alt"]
    if (aspect := _aspect(embed.get("aspectRatio"))) is not None:
        view["aspectRatio"] = aspect
    if embed.get("presentation") in ("default", "gif"):
        view["presentation"] = embed["presentation"]
    return view


def _external(urls: ImageUrls, did: str, embed: dict[str, Any]) -> dict[str, Any] | None:
    ext = embed.get("external")
    if not isinstance(ext, dict) or not isinstance(ext.get("uri"), str):
        return None
    view: dict[str, Any] = {
        "uri": ext["uri"],
        "title": ext.get("title") if isinstance(ext.get("title"), str) else "",
        "description": ext.get("description") if isinstance(ext.get("description"), str) else "",
    }
    thumb = blob_cid(ext.get("thumb"))
    if thumb is not None:
        view["thumb"] = urls.image("feed_thumbnail", did, thumb)
    return {"$type": f"{_EXTERNAL}#view", "external": view}


def media_view(urls: ImageUrls, did: str, embed: Any) -> dict[str, Any] | None:
    """The view of an images, video or external embed by ``did`` (None for anything else)."""
    if not isinstance(embed, dict):
        return None
    kind = embed.get("$type")
    if kind == _IMAGES:
        return _images(urls, did, embed)
    if kind == _VIDEO:
        return _video(urls, did, embed)
    if kind == _EXTERNAL:
        return _external(urls, did, embed)
    return None
