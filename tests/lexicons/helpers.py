"""Small inline lexicon documents shared by the lexicon tests."""

from __future__ import annotations

from typing import Any

import pytest

from sonet.lexicons import Lexicons, LexiconValidationError, validate_record
from sonet.repo.cid import cid_for_raw

NSID = "com.example.test"
BLOB_CID = cid_for_raw(b"a picture")


def record_doc(properties: dict[str, Any], **object_fields: Any) -> dict[str, Any]:
    """A lexicon whose ``main`` record has the given properties (plus ``required`` etc.)."""
    return {
        "lexicon": 1,
        "id": NSID,
        "defs": {
            "main": {
                "type": "record",
                "key": "tid",
                "record": {"type": "object", "properties": properties, **object_fields},
            }
        },
    }


def lexicons_for(
    properties: dict[str, Any], *extra_docs: dict[str, Any], **fields: Any
) -> Lexicons:
    return Lexicons([record_doc(properties, **fields), *extra_docs])


def record(**fields: Any) -> dict[str, Any]:
    return {"$type": NSID, **fields}


def blob(mime: str = "image/png", size: int = 1000) -> dict[str, Any]:
    return {"$type": "blob", "ref": BLOB_CID, "mimeType": mime, "size": size}


def check(lex: Lexicons, **fields: Any) -> None:
    """The record with ``fields`` (see :func:`record`) is valid."""
    validate_record(lex, NSID, record(**fields))


def fails(lex: Lexicons, message: str, **fields: Any) -> None:
    """The record with ``fields`` is refused with exactly ``message``."""
    with pytest.raises(LexiconValidationError) as caught:
        check(lex, **fields)
    assert str(caught.value) == message
