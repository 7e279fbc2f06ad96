"""Open and closed unions, ``$type`` handling, and blob references with accept/maxSize."""

from __future__ import annotations

from typing import Any

import pytest

from sonet.lexicons import LexiconNotFoundError, Lexicons, LexiconValidationError
from tests.lexicons.helpers import BLOB_CID, NSID, blob, check, fails, lexicons_for

EMBED_DOC = {
    "lexicon": 1,
    "id": "com.example.embed",
    "defs": {
        "main": {
            "type": "object",
            "required": ["uri"],
            "properties": {"uri": {"type": "string", "format": "uri"}},
        },
        "other": {"type": "object", "properties": {"n": {"type": "integer"}}},
    },
}
TARGET_RECORD_DOC = {
    "lexicon": 1,
    "id": "com.example.note",
    "defs": {
        "main": {
            "type": "record",
            "key": "tid",
            "record": {
                "type": "object",
                "required": ["text"],
                "properties": {"text": {"type": "string"}},
            },
        }
    },
}


def union_lexicons(closed: bool) -> Lexicons:
    union = {
        "type": "union",
        "refs": ["com.example.embed", "com.example.embed#other", "#local", "com.example.note"],
        "closed": closed,
    }
    doc_properties = {"u": union}
    lex = lexicons_for(doc_properties, EMBED_DOC, TARGET_RECORD_DOC)
    return lex


@pytest.mark.parametrize("closed", [False, True])
def test_union_members_are_validated(closed: bool) -> None:
    lex = union_lexicons(closed)
    check(lex, u={"$type": "com.example.embed", "uri": "https://example.com"})
    check(lex, u={"$type": "com.example.embed#main", "uri": "https://example.com"})
    check(lex, u={"$type": "com.example.embed#other", "n": 1})
    check(lex, u={"$type": "com.example.note", "text": "a record as a union member"})
    fails(lex, 'Record/u must have the property "uri"', u={"$type": "com.example.embed"})
    fails(lex, "Record/u/n must be an integer", u={"$type": "com.example.embed#other", "n": "1"})
    fails(lex, 'Record/u must have the property "text"', u={"$type": "com.example.note"})


@pytest.mark.parametrize("closed", [False, True])
def test_union_requires_type(closed: bool) -> None:
    lex = union_lexicons(closed)
    message = 'Record/u must be an object which includes the "$type" property'
    fails(lex, message, u={"uri": "https://example.com"})
    fails(lex, message, u={"$type": 5})
    fails(lex, message, u="com.example.embed")


def test_open_union_accepts_unknown_types() -> None:
    check(union_lexicons(False), u={"$type": "com.example.future#thing", "anything": [1]})


def test_closed_union_rejects_unknown_types() -> None:
    lex = union_lexicons(True)
    with pytest.raises(
        LexiconValidationError, match=r"^Record/u \$type must be one of com.example.embed, "
    ):
        check(lex, u={"$type": "com.example.future#thing"})


def test_union_member_missing_from_registry() -> None:
    lex = union_lexicons(False)
    with pytest.raises(LexiconNotFoundError):  # listed as "#local", which the record doc lacks
        check(lex, u={"$type": f"{NSID}#local"})


def test_union_in_array_paths() -> None:
    lex = lexicons_for(
        {
            "list": {
                "type": "array",
                "items": {"type": "union", "refs": ["com.example.embed#other"]},
            }
        },
        EMBED_DOC,
    )
    check(lex, list=[{"$type": "com.example.embed#other", "n": 1}, {"$type": "x.y.z"}])
    fails(
        lex,
        "Record/list/1/n must be an integer",
        list=[{"$type": "x.y.z"}, {"$type": "com.example.embed#other", "n": False}],
    )


# -- blobs ------------------------------------------------------------------------------------


def blob_lexicons(**blob_fields: Any) -> Lexicons:
    return lexicons_for({"b": {"type": "blob", **blob_fields}})


def test_blob_ref() -> None:
    lex = blob_lexicons()
    check(lex, b=blob())
    check(lex, b={"cid": BLOB_CID.encode(), "mimeType": "image/jpeg"})  # legacy form
    fails(
        lex,
        "Record/b should be a blob ref",
        b={"$type": "blob", "ref": BLOB_CID.encode(), "mimeType": "image/png", "size": 1},
    )
    fails(lex, "Record/b should be a blob ref", b={**blob(), "size": "1"})
    fails(lex, "Record/b should be a blob ref", b={**blob(), "size": True})
    fails(lex, "Record/b should be a blob ref", b={**blob(), "extra": 1})
    fails(lex, "Record/b should be a blob ref", b={"$type": "blob", "ref": BLOB_CID, "size": 1})
    fails(lex, "Record/b should be a blob ref", b={"cid": "not a cid", "mimeType": "image/png"})
    fails(lex, "Record/b should be a blob ref", b={"cid": BLOB_CID.encode()})
    fails(lex, "Record/b should be a blob ref", b=BLOB_CID)


def test_blob_accept_patterns() -> None:
    lex = blob_lexicons(accept=["image/*", "video/mp4"])
    check(lex, b=blob("image/png"))
    check(lex, b=blob("image/webp"))
    check(lex, b=blob("IMAGE/JPEG"))
    check(lex, b=blob("video/mp4"))
    check(lex, b={"cid": BLOB_CID.encode(), "mimeType": "image/gif"})
    for mime in ("video/webm", "text/html", "image", "imagery/png", ""):
        with pytest.raises(LexiconValidationError, match=r"^Record/b has MIME type"):
            check(lex, b=blob(mime))


def test_blob_accept_anything() -> None:
    check(blob_lexicons(accept=["*/*"]), b=blob("application/x-whatever"))


def test_blob_max_size() -> None:
    lex = blob_lexicons(maxSize=1000)
    check(lex, b=blob(size=1000))
    check(lex, b={"cid": BLOB_CID.encode(), "mimeType": "image/png"})  # legacy blobs carry no size
    fails(lex, "Record/b must not be larger than 1000 bytes", b=blob(size=1001))
