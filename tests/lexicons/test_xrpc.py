"""XRPC bodies, subscription messages and query-parameter parsing."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import MultiDict

from sonet.lexicons import (
    LexiconError,
    Lexicons,
    LexiconValidationError,
    parse_params,
    validate_input,
    validate_message,
    validate_output,
)

PARAMS = {
    "type": "params",
    "required": ["actor"],
    "properties": {
        "actor": {"type": "string", "format": "at-identifier"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
        "cursor": {"type": "string"},
        "includePins": {"type": "boolean", "default": False},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}, "maxLength": 3},
        "ids": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
    },
}

QUERY = {
    "lexicon": 1,
    "id": "com.example.getThings",
    "defs": {
        "main": {
            "type": "query",
            "parameters": PARAMS,
            "output": {
                "encoding": "application/json",
                "schema": {
                    "type": "object",
                    "required": ["things"],
                    "properties": {
                        "things": {"type": "array", "items": {"type": "ref", "ref": "#thing"}},
                        "cursor": {"type": "string"},
                    },
                },
            },
        },
        "thing": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "hidden": {"type": "boolean", "default": False},
            },
        },
    },
}

PROCEDURE = {
    "lexicon": 1,
    "id": "com.example.putThing",
    "defs": {
        "main": {
            "type": "procedure",
            "input": {
                "encoding": "application/json",
                "schema": {"type": "ref", "ref": "com.example.getThings#thing"},
            },
            "output": {
                "encoding": "application/json",
                "schema": {"type": "union", "refs": ["#ok"]},
            },
        },
        "ok": {"type": "object", "properties": {"count": {"type": "integer", "default": 1}}},
    },
}

UPLOAD = {
    "lexicon": 1,
    "id": "com.example.upload",
    "defs": {
        "main": {
            "type": "procedure",
            "input": {"encoding": "*/*"},
            "output": {"encoding": "application/json"},
        }
    },
}

SUBSCRIPTION = {
    "lexicon": 1,
    "id": "com.example.subscribe",
    "defs": {
        "main": {
            "type": "subscription",
            "parameters": {"type": "params", "properties": {"cursor": {"type": "integer"}}},
            "message": {"schema": {"type": "union", "refs": ["#commit", "#info"]}},
        },
        "commit": {
            "type": "object",
            "required": ["seq"],
            "properties": {
                "seq": {"type": "integer"},
                "rebase": {"type": "boolean", "default": False},
            },
        },
        "info": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}},
        },
    },
}
CLOSED_SUBSCRIPTION = {
    "lexicon": 1,
    "id": "com.example.closed",
    "defs": {
        "main": {
            "type": "subscription",
            "message": {"schema": {"type": "union", "refs": ["#only"], "closed": True}},
        },
        "only": {"type": "object", "properties": {}},
    },
}


@pytest.fixture(scope="module")
def lex() -> Lexicons:
    return Lexicons([QUERY, PROCEDURE, UPLOAD, SUBSCRIPTION, CLOSED_SUBSCRIPTION])


def params_error(lex: Lexicons, raw: Any) -> str:
    with pytest.raises(LexiconValidationError) as caught:
        parse_params(lex, "com.example.getThings", raw)
    return str(caught.value)


# -- params -----------------------------------------------------------------------------------


def test_params_are_typed_and_defaulted(lex: Lexicons) -> None:
    parsed = parse_params(lex, "com.example.getThings", {"actor": "alice.test", "limit": "10"})
    assert parsed == {"actor": "alice.test", "limit": 10, "includePins": False, "mode": "a"}
    parsed = parse_params(
        lex,
        "com.example.getThings",
        {"actor": "did:plc:abc", "includePins": "true", "tags": ["x", "y"], "ids": "7"},
    )
    assert parsed["includePins"] is True
    assert parsed["tags"] == ["x", "y"]
    assert parsed["ids"] == [7]


def test_params_from_a_multidict(lex: Lexicons) -> None:
    raw = MultiDict([("actor", "alice.test"), ("tags", "a"), ("tags", "b"), ("unknown", "dropped")])
    parsed = parse_params(lex, "com.example.getThings", raw)
    assert parsed["tags"] == ["a", "b"]
    assert "unknown" not in parsed


def test_params_empty_values_are_absent(lex: Lexicons) -> None:
    parsed = parse_params(
        lex, "com.example.getThings", {"actor": "alice.test", "limit": "", "tags": [""]}
    )
    assert parsed["limit"] == 50
    assert "tags" not in parsed
    assert params_error(lex, {"actor": ""}) == 'Params must have the property "actor"'


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, 'Params must have the property "actor"'),
        ({"actor": "not a handle!"}, "actor must be a valid did or a handle"),
        ({"actor": "alice.test", "limit": "0"}, "limit can not be less than 1"),
        ({"actor": "alice.test", "limit": "101"}, "limit can not be greater than 100"),
        ({"actor": "alice.test", "limit": "ten"}, "limit must be an integer"),
        ({"actor": "alice.test", "limit": "1.5"}, "limit must be an integer"),
        ({"actor": "alice.test", "limit": "+5"}, "limit must be an integer"),
        ({"actor": "alice.test", "limit": "１２"}, "limit must be an integer"),
        ({"actor": "alice.test", "limit": "9" * 40}, "limit must be an integer"),
        ({"actor": "alice.test", "limit": ["1", "2"]}, "limit must be given only once"),
        ({"actor": "alice.test", "includePins": "yes"}, "includePins must be a boolean"),
        ({"actor": "alice.test", "includePins": "True"}, "includePins must be a boolean"),
        (
            {"actor": "alice.test", "tags": ["a", "b", "c", "d"]},
            "tags must not have more than 3 elements",
        ),
        (
            {"actor": "alice.test", "tags": ["toolong"]},
            "tags/0 must not be longer than 5 characters",
        ),
        ({"actor": "alice.test", "ids": ["1", "x"]}, "ids must be an integer"),
        ({"actor": "alice.test", "ids": ["1", "-1"]}, "ids/1 can not be less than 0"),
        ({"actor": "alice.test", "mode": "c"}, "mode must be one of (a|b)"),
    ],
)
def test_params_errors(lex: Lexicons, raw: dict[str, Any], message: str) -> None:
    assert params_error(lex, raw) == message


def test_params_negative_integer(lex: Lexicons) -> None:
    with pytest.raises(LexiconValidationError, match=r"^ids/0 can not be less than 0$"):
        parse_params(lex, "com.example.getThings", {"actor": "alice.test", "ids": "-3"})


def test_params_without_schema(lex: Lexicons) -> None:
    assert parse_params(lex, "com.example.putThing", {"anything": "x"}) == {}
    assert parse_params(lex, "com.example.subscribe", {"cursor": "12"}) == {"cursor": 12}


def test_params_of_a_record_is_an_error(lex: Lexicons) -> None:
    with pytest.raises(LexiconError):
        parse_params(lex, "com.example.getThings#thing", {})


# -- bodies -----------------------------------------------------------------------------------


def test_output_validation_applies_defaults(lex: Lexicons) -> None:
    value = {"things": [{"name": "a"}, {"name": "b", "hidden": True}]}
    result = validate_output(lex, "com.example.getThings", value)
    assert result == {"things": [{"name": "a", "hidden": False}, {"name": "b", "hidden": True}]}
    assert value == {"things": [{"name": "a"}, {"name": "b", "hidden": True}]}  # not mutated


def test_output_errors(lex: Lexicons) -> None:
    with pytest.raises(LexiconValidationError, match=r'^Output must have the property "things"$'):
        validate_output(lex, "com.example.getThings", {})
    with pytest.raises(LexiconValidationError, match=r"^Output/things/0/name must be a string$"):
        validate_output(lex, "com.example.getThings", {"things": [{"name": 1}]})
    with pytest.raises(LexiconValidationError, match=r"^Output must be an object$"):
        validate_output(lex, "com.example.getThings", [])


def test_input_through_a_ref(lex: Lexicons) -> None:
    assert validate_input(lex, "com.example.putThing", {"name": "x"}) == {
        "name": "x",
        "hidden": False,
    }
    with pytest.raises(LexiconValidationError, match=r'^Input must have the property "name"$'):
        validate_input(lex, "com.example.putThing", {})
    with pytest.raises(LexiconValidationError, match=r"^Input must be an object$"):
        validate_input(lex, "com.example.putThing", "x")


def test_output_union(lex: Lexicons) -> None:
    ok = {"$type": "com.example.putThing#ok"}
    assert validate_output(lex, "com.example.putThing", ok) == {**ok, "count": 1}
    with pytest.raises(LexiconValidationError, match=r'includes the "\$type" property'):
        validate_output(lex, "com.example.putThing", {"count": 1})


def test_bodies_without_schema_pass(lex: Lexicons) -> None:
    assert validate_input(lex, "com.example.upload", b"raw bytes") == b"raw bytes"
    assert validate_output(lex, "com.example.upload", {"anything": 1}) == {"anything": 1}


def test_body_kinds(lex: Lexicons) -> None:
    with pytest.raises(LexiconError, match="Not a procedure lexicon"):
        validate_input(lex, "com.example.getThings", {})
    with pytest.raises(LexiconError):
        validate_output(lex, "com.example.subscribe", {})


# -- subscription messages --------------------------------------------------------------------


def test_message_with_type_field(lex: Lexicons) -> None:
    message = {"$type": "com.example.subscribe#commit", "seq": 1}
    assert validate_message(lex, "com.example.subscribe", message) == {**message, "rebase": False}
    with pytest.raises(LexiconValidationError, match=r"^Message/seq must be an integer$"):
        validate_message(lex, "com.example.subscribe", {**message, "seq": "1"})
    with pytest.raises(LexiconValidationError, match=r'includes the "\$type" property'):
        validate_message(lex, "com.example.subscribe", {"seq": 1})


def test_message_with_frame_type(lex: Lexicons) -> None:
    assert validate_message(lex, "com.example.subscribe", {"name": "x"}, "#info") == {"name": "x"}
    with pytest.raises(LexiconValidationError, match=r'^Message must have the property "seq"$'):
        validate_message(lex, "com.example.subscribe", {}, "#commit")
    assert validate_message(lex, "com.example.subscribe", {"x": 1}, "#future") == {"x": 1}
    assert validate_message(lex, "com.example.closed", {}, "#only") == {}
    with pytest.raises(LexiconValidationError, match=r"^Message type #other is not allowed$"):
        validate_message(lex, "com.example.closed", {}, "#other")


def test_message_frame_type_forms(lex: Lexicons) -> None:
    full = validate_message(
        lex, "com.example.subscribe", {"name": "x"}, "com.example.subscribe#info"
    )
    assert full == {"name": "x"}
    with pytest.raises(LexiconValidationError, match=r'^Message must have the property "name"$'):
        validate_message(lex, "com.example.subscribe", {}, "com.example.subscribe#info")
    assert validate_message(lex, "com.example.subscribe", {}, "not a ref!") == {}
    with pytest.raises(LexiconValidationError, match=r"^Message type not a ref! is not allowed$"):
        validate_message(lex, "com.example.closed", {}, "not a ref!")
