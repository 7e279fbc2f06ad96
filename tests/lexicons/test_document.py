"""Structural validation of lexicon documents beyond the interop vectors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sonet.lexicons import LexiconError, parse_lexicon
from sonet.lexicons.document import iter_refs


def doc_with(defs: dict[str, Any], nsid: str = "com.example.doc") -> dict[str, Any]:
    return {"lexicon": 1, "id": nsid, "defs": defs}


def obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


VALID_DEFS: dict[str, dict[str, Any]] = {
    "string with everything": {
        "type": "string",
        "format": "datetime",
        "minLength": 1,
        "maxLength": 64,
        "minGraphemes": 1,
        "maxGraphemes": 10,
        "knownValues": ["a", "com.example.doc#token"],
        "default": "a",
    },
    "integer bounds": {"type": "integer", "minimum": -5, "maximum": 5, "enum": [1, 2], "const": 1},
    "boolean": {"type": "boolean", "default": True},
    "bytes": {"type": "bytes", "minLength": 1, "maxLength": 8},
    "cid-link": {"type": "cid-link"},
    "blob accept": {"type": "blob", "accept": ["image/*", "video/mp4", "*/*"], "maxSize": 10},
    "token": {"type": "token", "description": "a symbol"},
    "array of unions": {
        "type": "array",
        "items": {"type": "union", "refs": ["#other", "com.example.defs#x"]},
        "maxLength": 3,
    },
    "nested object": obj(inner=obj(leaf={"type": "unknown"}), ref={"type": "ref", "ref": "#x"}),
    "open empty union in object": obj(u={"type": "union", "refs": []}),
}


@pytest.mark.parametrize("name", sorted(VALID_DEFS))
def test_valid_named_definitions(name: str) -> None:
    parse_lexicon(doc_with({"thing": VALID_DEFS[name]}))


def query(**fields: Any) -> dict[str, Any]:
    return {"main": {"type": "query", **fields}}


INVALID_DOCS: dict[str, dict[str, Any]] = {
    "boolean lexicon version": {
        "lexicon": True,
        "id": "com.example.doc",
        "defs": {"a": {"type": "token"}},
    },
    "no defs": {"lexicon": 1, "id": "com.example.doc", "defs": {}},
    "def without type": doc_with({"a": {"description": "x"}}),
    "unknown type": doc_with({"a": {"type": "float"}}),
    "named union": doc_with({"a": {"type": "union", "refs": ["#b"]}}),
    "named params": doc_with({"a": {"type": "params", "properties": {}}}),
    "two primaries": doc_with(
        {
            "main": {"type": "token"},
            "other": {"type": "query"},
        }
    ),
    "unknown string format": doc_with({"a": {"type": "string", "format": "email"}}),
    "string maxLength not integer": doc_with({"a": {"type": "string", "maxLength": "10"}}),
    "negative maxGraphemes": doc_with({"a": {"type": "string", "maxGraphemes": -1}}),
    "min above max": doc_with({"a": {"type": "bytes", "minLength": 5, "maxLength": 1}}),
    "integer float bound": doc_with({"a": {"type": "integer", "maximum": 1.5}}),
    "integer boolean default": doc_with({"a": {"type": "integer", "default": True}}),
    "string const and default": doc_with({"a": {"type": "string", "const": "x", "default": "x"}}),
    "enum not strings": doc_with({"a": {"type": "string", "enum": [1, 2]}}),
    "bad ref": doc_with({"a": obj(r={"type": "ref", "ref": "not a ref"})}),
    "ref with two hashes": doc_with({"a": obj(r={"type": "ref", "ref": "com.example.x#a#b"})}),
    "empty closed union": doc_with({"a": obj(u={"type": "union", "refs": [], "closed": True})}),
    "union refs not a list": doc_with({"a": obj(u={"type": "union", "refs": "#b"})}),
    "object without properties": doc_with({"a": {"type": "object"}}),
    "required not defined": doc_with({"a": {**obj(), "required": ["x"]}}),
    "property of token type": doc_with({"a": obj(t={"type": "token"})}),
    "array without items": doc_with({"a": {"type": "array"}}),
    "array of params": doc_with(
        {"a": {"type": "array", "items": {"type": "params", "properties": {}}}}
    ),
    "blob lone star": doc_with({"a": {"type": "blob", "accept": ["*"]}}),
    "blob partial glob": doc_with({"a": {"type": "blob", "accept": ["text/ht*"]}}),
    "blob star type": doc_with({"a": {"type": "blob", "accept": ["*/png"]}}),
    "record without key": {
        "lexicon": 1,
        "id": "com.example.doc",
        "defs": {"main": {"type": "record", "record": obj()}},
    },
    "record with unknown key type": {
        "lexicon": 1,
        "id": "com.example.doc",
        "defs": {"main": {"type": "record", "key": "uuid", "record": obj()}},
    },
    "record of array": {
        "lexicon": 1,
        "id": "com.example.doc",
        "defs": {"main": {"type": "record", "key": "tid", "record": {"type": "array"}}},
    },
    "query with input": doc_with(query(input={"encoding": "application/json"})),
    "params with object": doc_with(
        query(parameters={"type": "params", "properties": {"o": obj()}})
    ),
    "params with array of unknown": doc_with(
        query(
            parameters={
                "type": "params",
                "properties": {"a": {"type": "array", "items": {"type": "unknown"}}},
            }
        )
    ),
    "parameters not params": doc_with(query(parameters=obj())),
    "body without encoding": doc_with(query(output={"schema": obj()})),
    "body schema of string": doc_with(
        query(output={"encoding": "application/json", "schema": {"type": "string"}})
    ),
    "error without name": doc_with(query(errors=[{"description": "x"}])),
    "error name with space": doc_with(query(errors=[{"name": "Bad Thing"}])),
    "subscription without message": doc_with({"main": {"type": "subscription"}}),
    "subscription message object": doc_with(
        {"main": {"type": "subscription", "message": {"schema": obj()}}}
    ),
    "permission-set without permissions": doc_with({"main": {"type": "permission-set"}}),
    "permission without resource": doc_with(
        {"main": {"type": "permission-set", "permissions": [{"type": "permission"}]}}
    ),
    "permission-set bad language": doc_with(
        {
            "main": {
                "type": "permission-set",
                "title:lang": {"not a language!": "x"},
                "permissions": [],
            }
        }
    ),
}


@pytest.mark.parametrize("name", sorted(INVALID_DOCS))
def test_invalid_documents(name: str) -> None:
    with pytest.raises(LexiconError):
        parse_lexicon(INVALID_DOCS[name])


def test_parse_copies_the_definitions() -> None:
    doc = doc_with({"a": {"type": "string", "maxLength": 3}})
    original = copy.deepcopy(doc)
    parsed = parse_lexicon(doc)
    doc["defs"]["a"]["maxLength"] = 100
    assert parsed.defs["a"] == original["defs"]["a"]


def test_unexpected_fields_are_ignored() -> None:
    parse_lexicon(doc_with({"a": {"type": "string", "x-extension": {"anything": 1}}}))


def test_not_a_mapping() -> None:
    with pytest.raises(LexiconError, match=r"JSON object"):
        parse_lexicon(["lexicon", 1])


def test_iter_refs_resolves_local_and_global_refs() -> None:
    parsed = parse_lexicon(
        doc_with(
            {
                "a": obj(
                    r={"type": "ref", "ref": "#b"},
                    u={"type": "union", "refs": ["com.example.other", "com.example.other#c"]},
                ),
                "b": {"type": "token"},
            }
        )
    )
    assert sorted(ref for _, ref in iter_refs(parsed)) == [
        "com.example.doc#b",
        "com.example.other#c",
        "com.example.other#main",
    ]
