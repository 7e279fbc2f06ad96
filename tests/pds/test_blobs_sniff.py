"""Blob type sniffing from magic bytes and container headers."""

from __future__ import annotations

import os
import struct
import zlib

import pytest

from sonet.pds.blobs.sniff import sniff_mime


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png(*, animated: bool = False) -> bytes:
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    actl = png_chunk(b"acTL", struct.pack(">II", 1, 0)) if animated else b""
    idat = png_chunk(b"IDAT", zlib.compress(b"\x00\x00"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + actl + idat + png_chunk(b"IEND", b"")


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00\x00\x00\x08mdat"


def ebml(doc_type: bytes) -> bytes:
    version = b"\x42\x86\x81\x01"
    doc = b"\x42\x82" + bytes([0x80 | len(doc_type)]) + doc_type
    body = version + doc
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(body)]) + body + b"\x18\x53\x80\x67"


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (png(), "image/png"),
        (png(animated=True), "image/apng"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"GIF87a\x01\x00\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (ftyp(b"avif", b"mif1", b"miaf"), "image/avif"),
        (ftyp(b"mif1", b"avif", b"miaf"), "image/avif"),
        (ftyp(b"mif1", b"heic"), "image/heif"),
        (ftyp(b"heic", b"mif1"), "image/heic"),
        (ftyp(b"msf1", b"hevc"), "image/heif-sequence"),
        (ftyp(b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4"),
        (ftyp(b"mp42"), "video/mp4"),
        (ftyp(b"qt  "), "video/quicktime"),
        (ftyp(b"3gp5"), "video/3gpp"),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x10mdat", "video/quicktime"),
        (b"\x00\x00\x00\x6cmoov\x00\x00\x00\x6cmvhd", "video/quicktime"),
        (ebml(b"webm"), "video/webm"),
        (ebml(b"matroska"), "video/x-matroska"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b"BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00", "image/bmp"),
    ],
)
def test_recognised_formats(head: bytes, mime: str) -> None:
    assert sniff_mime(head) == mime


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"hello world, this is text",
        b"BMW is a car brand, not a bitmap",
        b'{"json": true}',
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"\xff\xd8\xff\xf7",  # JPEG-LS is not image/jpeg
        b"\x1a\x45\xdf\xa3",  # EBML header cut off
        ebml(b"other"),
        b"\x00\x00\x00\x18ftyp",  # brand missing
    ],
)
def test_unrecognised_or_truncated(head: bytes) -> None:
    assert sniff_mime(head) is None


def test_truncated_prefixes_never_raise() -> None:
    samples = [png(animated=True), ftyp(b"mif1", b"avif"), ebml(b"webm"), b"RIFF\x00\x00WEBP"]
    for sample in samples:
        for cut in range(len(sample) + 1):
            sniff_mime(sample[:cut])


def test_random_bytes_never_raise() -> None:
    for _ in range(2000):
        sniff_mime(os.urandom(64))
    # hostile sizes inside containers
    sniff_mime(b"\x1a\x45\xdf\xa3\x01\xff\xff\xff\xff\xff\xff\xff\x42\x82\xff")
    sniff_mime(b"\x89PNG\r\n\x1a\n\xff\xff\xff\xffIHDR")
    sniff_mime(b"\xff\xff\xff\xffftypmif1" + b"\x00" * 8)
