"""Blob images served by the AppView at CDN-style URLs, resized per preset.

URLs have the reference AppView's shape, ``<public url>/img/<preset>/plain/<did>/<cid>@jpeg``
(presets ``avatar``, ``banner``, ``feed_thumbnail``, ``feed_fullsize``; formats ``jpeg``,
``webp``, ``png``). Serving one: the blob is fetched from the account's PDS
(``com.atproto.sync.getBlob``, https://atproto.com/specs/blob) through the SSRF-safe client,
its CID checked against the bytes, decoded and resized with Pillow in a worker thread (never
upscaled; ``cover`` crops to the preset's box, ``inside`` fits in it) and cached on disk.
Bad paths are 400s, missing or mismatching blobs 404s, anything wrong upstream a 502.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from aiohttp import web
from PIL import Image, ImageOps
from yarl import URL

from sonet.identity.did_resolver import DidResolver
from sonet.identity.errors import IdentityError
from sonet.net import HttpClient, NetError
from sonet.repo.cid import InvalidCidError, cid_for_raw, parse_cid
from sonet.syntax.did import is_valid_did

__all__ = [
    "PRESETS",
    "BadImagePathError",
    "ImagePath",
    "ImageService",
    "ImageUrls",
    "Preset",
    "parse_image_path",
]

MAX_SOURCE_BYTES: Final = 20 * 1024 * 1024
MAX_PIXELS: Final = 40_000_000
CACHE_CONTROL: Final = "public, max-age=31536000"
_PATH = re.compile(r"^([a-z_]+)/plain/([^/]+)/([^/@]+)(?:@([a-z]+))?$")
_MIME = {"jpeg": "image/jpeg", "webp": "image/webp", "png": "image/png"}
_PIL_FORMAT = {"jpeg": "JPEG", "webp": "WEBP", "png": "PNG"}


@dataclass(frozen=True, slots=True)
class Preset:
    """How a preset resizes: ``cover`` fills the box (cropping), ``inside`` fits in it."""

    fit: Literal["cover", "inside"]
    width: int
    height: int


PRESETS: Final = {
    "avatar": Preset("cover", 1000, 1000),
    "banner": Preset("cover", 3000, 1000),
    "feed_thumbnail": Preset("inside", 2000, 2000),
    "feed_fullsize": Preset("inside", 1000, 1000),
}


class BadImagePathError(ValueError):
    """An image URL path that names no valid preset, DID, CID or format."""


class ImageUrls:
    """Builds the image (and video) URLs that views show, under ``base_url``."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def image(self, preset: str, did: str, cid: str) -> str:
        """The URL of blob ``cid`` of ``did`` in ``preset``."""
        return f"{self.base_url}/img/{preset}/plain/{did}/{cid}@jpeg"

    def video_playlist(self, did: str, cid: str) -> str:
        """The HLS playlist URL of a video blob (not served by Sonet yet)."""
        return f"{self.base_url}/video/{did}/{cid}/playlist.m3u8"

    def video_thumbnail(self, did: str, cid: str) -> str:
        """The thumbnail URL of a video blob (not served by Sonet yet)."""
        return f"{self.base_url}/video/{did}/{cid}/thumbnail.jpg"


@dataclass(frozen=True, slots=True)
class ImagePath:
    """A parsed image path."""

    preset: str
    did: str
    cid: str
    format: str


def parse_image_path(path: str) -> ImagePath:
    """Parse ``<preset>/plain/<did>/<cid>[@<format>]``."""
    match = _PATH.match(path)
    if match is None:
        raise BadImagePathError("Invalid path")
    preset, did, cid, fmt = match.groups()
    if preset not in PRESETS:
        raise BadImagePathError("Invalid path: bad preset")
    if not is_valid_did(did):
        raise BadImagePathError("Invalid path: bad did")
    try:
        parse_cid(cid)
    except InvalidCidError:
        raise BadImagePathError("Invalid path: bad cid") from None
    fmt = fmt or "jpeg"
    if fmt not in _MIME:
        raise BadImagePathError("Invalid path: bad format")
    return ImagePath(preset, did, cid, fmt)


def _fit(image: Image.Image, preset: Preset) -> Image.Image:
    width, height = image.size
    if preset.fit == "inside":
        image.thumbnail((preset.width, preset.height))
        return image
    if width <= preset.width and height <= preset.height:
        return image
    box = (min(width, preset.width), min(height, preset.height))
    return ImageOps.fit(image, box)


def render_image(data: bytes, preset: Preset, fmt: str) -> bytes:
    """Decode, orient, resize and re-encode an image; :class:`ValueError` if it is none."""
    try:
        with Image.open(io.BytesIO(data)) as source:
            if source.width * source.height > MAX_PIXELS:
                raise ValueError("image too large")
            image = ImageOps.exif_transpose(source) or source
            image.load()
    except (OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ValueError(f"not an image: {exc}") from None
    image = _fit(image, preset)
    if fmt == "jpeg" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, _PIL_FORMAT[fmt], quality=85)
    return out.getvalue()


class ImageService:
    """Serves ``/img/...``: from the disk cache under ``cache_dir``, or fetched and resized."""

    def __init__(self, http: HttpClient, dids: DidResolver, cache_dir: Path) -> None:
        self.http = http
        self.dids = dids
        self.cache_dir = cache_dir
        self._pending: dict[Path, asyncio.Future[bytes]] = {}

    def install(self, app: web.Application) -> None:
        """Add the ``/img/{path}`` route."""
        app.router.add_get("/img/{path:.+}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        """Serve one image request."""
        try:
            path = parse_image_path(request.match_info["path"])
        except BadImagePathError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        body = await self.image(path)
        return web.Response(
            body=body,
            content_type=_MIME[path.format],
            headers={"Cache-Control": CACHE_CONTROL},
        )

    def _cache_file(self, path: ImagePath) -> Path:
        key = hashlib.sha256(f"{path.did}/{path.cid}/{path.preset}".encode()).hexdigest()
        return self.cache_dir / key[:2] / f"{key}.{path.format}"

    async def image(self, path: ImagePath) -> bytes:
        """The processed image (one fetch at a time per cache file)."""
        file = self._cache_file(path)
        try:
            return await asyncio.to_thread(file.read_bytes)
        except FileNotFoundError:
            pass
        pending = self._pending.get(file)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[file] = future
        try:
            body = await self._produce(path, file)
            future.set_result(body)
            return body
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no warning when nobody else waits
            raise
        finally:
            del self._pending[file]

    async def _produce(self, path: ImagePath, file: Path) -> bytes:
        source = await self._fetch_blob(path.did, path.cid)
        try:
            body = await asyncio.to_thread(render_image, source, PRESETS[path.preset], path.format)
        except ValueError:
            raise web.HTTPBadRequest(text="Not an image") from None
        await asyncio.to_thread(_write_atomic, file, body)
        return body

    async def _fetch_blob(self, did: str, cid: str) -> bytes:
        try:
            identity = await self.dids.resolve_atproto(did)
        except IdentityError:
            raise web.HTTPNotFound(text="Blob not found: unknown account") from None
        if identity.pds_endpoint is None:
            raise web.HTTPNotFound(text="Blob not found: account has no PDS")
        url = URL(identity.pds_endpoint).with_path("/xrpc/com.atproto.sync.getBlob")
        try:
            resp = await self.http.get(
                url.with_query(did=did, cid=cid), max_bytes=MAX_SOURCE_BYTES, timeout=15
            )
        except NetError:
            raise web.HTTPBadGateway(text="Upstream Error") from None
        if resp.status in (400, 404):
            raise web.HTTPNotFound(text="Blob not found")
        if not resp.ok:
            raise web.HTTPBadGateway(text="Upstream Error")
        if cid_for_raw(resp.body) != parse_cid(cid):
            raise web.HTTPNotFound(text="Blob not found: content does not match its CID")
        return resp.body


def _write_atomic(file: Path, body: bytes) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(body)
    tmp.replace(file)
