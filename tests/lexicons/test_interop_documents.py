"""The interop lexicon document vectors: each valid doc parses, each invalid doc is rejected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sonet.lexicons import LexiconError, Lexicons, parse_lexicon
from tests.conftest import interop_dir


def _case_names(filename: str) -> list[str]:
    path = interop_dir() / "lexicon" / filename
    if not path.is_file():
        return []
    return [case["name"] for case in json.loads(path.read_text())]


def _case(interop: Path, filename: str, name: str) -> dict[str, Any]:
    cases = json.loads((interop / "lexicon" / filename).read_text())
    (found,) = [case["lexicon"] for case in cases if case["name"] == name]
    return found  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", _case_names("lexicon-valid.json"))
def test_valid_document(interop: Path, name: str) -> None:
    doc = _case(interop, "lexicon-valid.json", name)
    parsed = parse_lexicon(doc)
    assert parsed.id == doc["id"]
    assert set(parsed.defs) == set(doc["defs"])


@pytest.mark.parametrize("name", _case_names("lexicon-invalid.json"))
def test_invalid_document(interop: Path, name: str) -> None:
    with pytest.raises(LexiconError):
        parse_lexicon(_case(interop, "lexicon-invalid.json", name))


def test_vector_files_are_present(interop: Path) -> None:
    assert _case_names("lexicon-valid.json")
    assert _case_names("lexicon-invalid.json")


def _catalog_names() -> list[str]:
    folder = interop_dir() / "lexicon" / "catalog"
    return sorted(path.name for path in folder.glob("*.json")) if folder.is_dir() else []


@pytest.mark.parametrize("filename", _catalog_names())
def test_catalog_document_loads(interop: Path, filename: str) -> None:
    doc = json.loads((interop / "lexicon" / "catalog" / filename).read_text())
    lex = Lexicons([doc])
    assert lex.get(doc["id"]) is not None
    for name in doc["defs"]:
        assert lex.get_def(f"{doc['id']}#{name}")["type"] == doc["defs"][name]["type"]


def test_catalog_record_validates_a_full_record(interop: Path) -> None:
    from sonet.lexicons import LexiconValidationError, validate_record
    from sonet.repo.cid import cid_for_cbor

    doc = json.loads((interop / "lexicon" / "catalog" / "record.json").read_text())
    lex = Lexicons([doc])
    value = {
        "$type": "example.lexicon.record",
        "integer": 1,
        "nullableString": None,
        "bytes": b"\x00\x01",
        "cid-link": cid_for_cbor(b"\xa0"),
        "union": {"$type": "example.lexicon.record#demoObject", "a": 1},
        "closedUnion": {"$type": "example.lexicon.record#demoObject", "b": 2},
        "formats": {
            "did": "did:plc:abc123",
            "handle": "alice.test",
            "datetime": "2024-01-01T00:00:00.000Z",
            "language": "pt-BR",
            "recordkey": "self",
        },
        "constInteger": 42,
        "enumString": "fish",
        "knownString": "purple",
        "lenArray": [1, 2, 3],
    }
    validate_record(lex, "example.lexicon.record", value)
    with pytest.raises(
        LexiconValidationError, match=r"Record/formats/handle must be a valid handle"
    ):
        validate_record(lex, "example.lexicon.record", {**value, "formats": {"handle": "no"}})
