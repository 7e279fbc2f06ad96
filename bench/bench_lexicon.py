"""Lexicon validation throughput for a typical post (text, facets, langs, a reply and an image
embed), against the bundled ``app.bsky.feed.post`` (or a small inline schema when the bundle
lacks it).

Run: ``python bench/bench_lexicon.py``. Prints validations/s for the full post, for a short
plain-text post, for a long non-ASCII post that needs grapheme counting, and for query params.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import throughput
from sonet.lexicons import Lexicons, parse_params, validate_record
from sonet.repo.cid import cid_for_cbor, cid_for_raw

RUNS = 5
SECONDS = 0.4
POST = "app.bsky.feed.post"
FEED_QUERY = "app.bsky.feed.getAuthorFeed"

_FALLBACK_POST = {
    "lexicon": 1,
    "id": POST,
    "defs": {
        "main": {
            "type": "record",
            "key": "tid",
            "record": {
                "type": "object",
                "required": ["text", "createdAt"],
                "properties": {
                    "text": {"type": "string", "maxLength": 3000, "maxGraphemes": 300},
                    "facets": {"type": "array", "items": {"type": "ref", "ref": "#facet"}},
                    "reply": {"type": "ref", "ref": "#replyRef"},
                    "embed": {"type": "union", "refs": ["#images"]},
                    "langs": {
                        "type": "array",
                        "maxLength": 3,
                        "items": {"type": "string", "format": "language"},
                    },
                    "createdAt": {"type": "string", "format": "datetime"},
                },
            },
        },
        "facet": {
            "type": "object",
            "required": ["index", "features"],
            "properties": {
                "index": {"type": "ref", "ref": "#byteSlice"},
                "features": {
                    "type": "array",
                    "items": {"type": "union", "refs": ["#mention", "#link"]},
                },
            },
        },
        "byteSlice": {
            "type": "object",
            "required": ["byteStart", "byteEnd"],
            "properties": {
                "byteStart": {"type": "integer", "minimum": 0},
                "byteEnd": {"type": "integer", "minimum": 0},
            },
        },
        "mention": {
            "type": "object",
            "required": ["did"],
            "properties": {"did": {"type": "string", "format": "did"}},
        },
        "link": {
            "type": "object",
            "required": ["uri"],
            "properties": {"uri": {"type": "string", "format": "uri"}},
        },
        "replyRef": {
            "type": "object",
            "required": ["root", "parent"],
            "properties": {
                "root": {"type": "ref", "ref": "#strongRef"},
                "parent": {"type": "ref", "ref": "#strongRef"},
            },
        },
        "strongRef": {
            "type": "object",
            "required": ["uri", "cid"],
            "properties": {
                "uri": {"type": "string", "format": "at-uri"},
                "cid": {"type": "string", "format": "cid"},
            },
        },
        "images": {
            "type": "object",
            "required": ["images"],
            "properties": {
                "images": {
                    "type": "array",
                    "maxLength": 4,
                    "items": {"type": "ref", "ref": "#image"},
                },
            },
        },
        "image": {
            "type": "object",
            "required": ["image", "alt"],
            "properties": {
                "image": {"type": "blob", "accept": ["image/*"], "maxSize": 1000000},
                "alt": {"type": "string"},
            },
        },
    },
}


def lexicons() -> tuple[Lexicons, str]:
    bundled = Lexicons.bundled()
    if POST in bundled and "app.bsky.embed.images" in bundled:
        return bundled, "bundled app.bsky.feed.post"
    return Lexicons([_FALLBACK_POST]), "inline post schema"


def full_post(embed_type: str, facet_nsid: str) -> dict[str, Any]:
    parent = {
        "uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3k43tv4rft22g",
        "cid": cid_for_cbor(b"\xa0").encode(),
    }
    text = "hello @alice.bsky.social, have a look at https://example.com/some/page 🎉"
    return {
        "$type": POST,
        "text": text,
        "facets": [
            {
                "index": {"byteStart": 6, "byteEnd": 24},
                "features": [
                    {"$type": f"{facet_nsid}#mention", "did": "did:plc:ewvi7nxzyoun6zhxrhs64oiz"}
                ],
            },
            {
                "index": {"byteStart": 41, "byteEnd": 71},
                "features": [
                    {"$type": f"{facet_nsid}#link", "uri": "https://example.com/some/page"}
                ],
            },
        ],
        "reply": {"root": parent, "parent": parent},
        "embed": {
            "$type": embed_type,
            "images": [
                {
                    "alt": "a picture of a cat",
                    "image": {
                        "$type": "blob",
                        "ref": cid_for_raw(b"cat"),
                        "mimeType": "image/jpeg",
                        "size": 123456,
                    },
                    "aspectRatio": {"width": 4, "height": 3},
                }
            ],
        },
        "langs": ["en"],
        "createdAt": "2024-11-22T02:58:00.123Z",
    }


def main() -> None:
    lex, source = lexicons()
    bundled = source.startswith("bundled")
    if bundled:
        post = full_post("app.bsky.embed.images", "app.bsky.richtext.facet")
    else:
        post = full_post(f"{POST}#images", POST)
    short = {"$type": POST, "text": "just setting up my sonet", "createdAt": "2024-11-22T02:58:00Z"}
    # Decomposed accents and a ZWJ family: more code points than graphemes, so they get counted.
    long_text = (
        unicodedata.normalize("NFD", "Ünïcödé text, emoji 👨\u200d👩\u200d👧 and àccénts. ") * 8
    )
    long = {**short, "text": long_text}
    validate_record(lex, POST, post)
    validate_record(lex, POST, long)
    print(f"schema: {source}; best of {RUNS} runs of {SECONDS} s")
    cases: list[tuple[str, Callable[[], object]]] = [
        ("post with facets, reply, image", lambda: validate_record(lex, POST, post)),
        ("short text-only post", lambda: validate_record(lex, POST, short)),
        (f"{len(long_text)}-code-point non-ASCII post", lambda: validate_record(lex, POST, long)),
    ]
    if FEED_QUERY in lex:
        raw = {"actor": "alice.bsky.social", "limit": "30", "cursor": "3k43tv4rft22g"}
        cases.append((f"{FEED_QUERY} params", lambda: parse_params(lex, FEED_QUERY, raw)))
    for name, fn in cases:
        rate = throughput(fn, seconds=SECONDS, repeat=RUNS)
        print(f"{name:<36} {rate:>10,.0f} validations/s")


if __name__ == "__main__":
    main()
