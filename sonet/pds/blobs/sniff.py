"""Recognising common image and video formats from their first bytes.

https://atproto.com/specs/blob#usage-and-implementation-guidelines: a PDS should not trust the
MIME type a client declares; like the reference PDS it stores the type found in the bytes and
falls back to the declared one only when the format is not recognised. Only magic numbers and
container headers are read (no decoding), so a few kilobytes of the blob's head are enough.
"""

from __future__ import annotations

from typing import Final

__all__ = ["SNIFF_BYTES", "sniff_mime"]

SNIFF_BYTES: Final = 64 * 1024
"""How much of a blob's head :func:`sniff_mime` looks at (at most)."""

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
EBML_MAGIC: Final = b"\x1a\x45\xdf\xa3"
EBML_DOCTYPE_ID: Final = 0x4282
QUICKTIME_ATOMS: Final = (b"free", b"mdat", b"moov", b"wide")

FTYP_BRANDS: Final[dict[str, str]] = {
    "avif": "image/avif",
    "avis": "image/avif",
    "mif1": "image/heif",
    "msf1": "image/heif-sequence",
    "heic": "image/heic",
    "heix": "image/heic",
    "hevc": "image/heic-sequence",
    "hevx": "image/heic-sequence",
    "qt": "video/quicktime",
    "M4V": "video/x-m4v",
    "M4VH": "video/x-m4v",
    "M4VP": "video/x-m4v",
    "M4A": "audio/x-m4a",
    "M4B": "audio/mp4",
}
"""ISO base media (``ftyp``) major brands that are not plain ``video/mp4``."""


def sniff_mime(head: bytes) -> str | None:
    """The MIME type of the format ``head`` starts with, or ``None`` if it is not recognised."""
    if head.startswith(b"\xff\xd8\xff") and head[3:4] != b"\xf7":  # \xf7: JPEG-LS
        return "image/jpeg"
    if head.startswith(PNG_SIGNATURE):
        return _png_kind(head)
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and len(head) >= 12 and head[8] & 0x60:
        return _iso_media_kind(head)
    if head[4:8] in QUICKTIME_ATOMS:
        return "video/quicktime"
    if head.startswith(EBML_MAGIC):
        return _matroska_kind(head)
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head.startswith(b"BM") and len(head) >= 14 and head[6:10] == b"\x00\x00\x00\x00":
        return "image/bmp"
    return None


def _png_kind(head: bytes) -> str:
    """``image/apng`` if an animation control chunk comes before the first image data."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(head):
        length = int.from_bytes(head[pos : pos + 4], "big")
        kind = head[pos + 4 : pos + 8]
        if kind == b"acTL":
            return "image/apng"
        if kind == b"IDAT" or length >= 2**31:
            break
        pos += 12 + length  # length, type, data, CRC
    return "image/png"


def _iso_media_kind(head: bytes) -> str:
    """The type named by an ``ftyp`` box's brands (AVIF may be only a compatible brand)."""
    major = head[8:12].decode("latin-1").replace("\x00", " ").strip()
    box_end = min(int.from_bytes(head[0:4], "big"), len(head))
    compatible = {head[i : i + 4] for i in range(16, box_end - 3, 4)}
    if major in ("mif1", "msf1") and compatible & {b"avif", b"avis"}:
        return "image/avif"
    if major in FTYP_BRANDS:
        return FTYP_BRANDS[major]
    if major.startswith("3g2"):
        return "video/3gpp2"
    if major.startswith("3g"):
        return "video/3gpp"
    return "video/mp4"


def _ebml_varint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``pos``: (value, next position), or None if cut off."""
    if pos >= len(data) or data[pos] == 0:
        return None
    first = data[pos]
    width = 8 - first.bit_length() + 1
    if pos + width > len(data):
        return None
    value = first if keep_marker else first & (0xFF >> width)
    for byte in data[pos + 1 : pos + width]:
        value = (value << 8) | byte
    return value, pos + width


def _matroska_kind(head: bytes) -> str | None:
    """``video/webm`` or ``video/x-matroska`` from the EBML header's DocType."""
    size = _ebml_varint(head, len(EBML_MAGIC), keep_marker=False)
    if size is None:
        return None
    end = min(size[0] + size[1], len(head))
    pos = size[1]
    while pos < end:
        element = _ebml_varint(head, pos, keep_marker=True)
        if element is None:
            return None
        length = _ebml_varint(head, element[1], keep_marker=False)
        if length is None:
            return None
        data_start, data_end = length[1], length[1] + length[0]
        if element[0] == EBML_DOCTYPE_ID:
            doc_type = head[data_start:data_end].split(b"\x00", 1)[0]
            return {b"webm": "video/webm", b"matroska": "video/x-matroska"}.get(doc_type)
        pos = data_end
    return None
