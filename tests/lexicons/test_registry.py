"""The Lexicons collection: adding documents, resolving definitions, the bundled set."""

from __future__ import annotations

import pytest

from sonet.lexicons import LexiconError, LexiconNotFoundError, Lexicons
from tests.lexicons.helpers import NSID, record_doc

DEFS_DOC = {
    "lexicon": 1,
    "id": "com.example.defs",
    "defs": {"view": {"type": "object", "properties": {}}, "tag": {"type": "string"}},
}


def test_get_def_by_global_and_main_refs() -> None:
    lex = Lexicons([record_doc({}), DEFS_DOC])
    assert lex.get_def(NSID)["type"] == "record"
    assert lex.get_def(f"{NSID}#main") is lex.get_def(NSID)
    assert lex.get_def("com.example.defs#tag") == {"type": "string"}
    assert NSID in lex
    assert len(lex) == 2
    assert {doc.id for doc in lex} == {NSID, "com.example.defs"}


def test_get_def_checks_kinds() -> None:
    lex = Lexicons([DEFS_DOC])
    assert lex.get_def("com.example.defs#view", ("object",))["type"] == "object"
    with pytest.raises(LexiconError, match=r"Not a record lexicon"):
        lex.get_def("com.example.defs#view", ("record",))


def test_missing_definitions() -> None:
    lex = Lexicons([DEFS_DOC])
    with pytest.raises(LexiconNotFoundError, match=r"com.example.defs#nope"):
        lex.get_def("com.example.defs#nope")
    with pytest.raises(LexiconNotFoundError, match=r"com.example.unknown"):
        lex.get_def("com.example.unknown")
    with pytest.raises(LexiconError):
        lex.get_def("#view")  # a local ref has no document to resolve against


def test_duplicate_and_invalid_documents() -> None:
    lex = Lexicons([DEFS_DOC])
    with pytest.raises(LexiconError, match=r"already registered"):
        lex.add(DEFS_DOC)
    with pytest.raises(LexiconError):
        lex.add({"lexicon": 1, "id": "bad", "defs": {}})
    assert len(lex) == 1


def test_add_accepts_parsed_documents() -> None:
    first = Lexicons([DEFS_DOC])
    second = Lexicons(first)
    assert second.get("com.example.defs") is first.get("com.example.defs")


def test_validators_are_compiled_once() -> None:
    lex = Lexicons([DEFS_DOC])
    assert lex.validator("com.example.defs#view") is lex.validator("com.example.defs#view")


def test_refs_may_point_to_documents_added_later() -> None:
    from sonet.lexicons import LexiconValidationError, validate_record

    lex = Lexicons([record_doc({"view": {"type": "ref", "ref": "com.example.defs#tag"}})])
    with pytest.raises(LexiconNotFoundError):
        validate_record(lex, NSID, {"$type": NSID, "view": "x"})
    lex.add(DEFS_DOC)
    validate_record(lex, NSID, {"$type": NSID, "view": "x"})
    with pytest.raises(LexiconValidationError, match=r"Record/view must be a string"):
        validate_record(lex, NSID, {"$type": NSID, "view": 1})


def test_bundled_is_loaded_once() -> None:
    assert Lexicons.bundled() is Lexicons.bundled()
