"""Record validation: every field type and constraint, with reference-style error messages."""

from __future__ import annotations

from typing import Any

import pytest

from sonet.lexicons import (
    LexiconError,
    LexiconNotFoundError,
    Lexicons,
    LexiconValidationError,
    validate_object,
    validate_record,
)
from sonet.repo.cid import cid_for_cbor
from tests.lexicons.helpers import NSID, check, fails, lexicons_for, record

# -- $type and the record itself --------------------------------------------------------------


def test_record_type_field() -> None:
    lex = lexicons_for({})
    validate_record(lex, NSID, {"$type": NSID})
    with pytest.raises(LexiconValidationError, match=r"^Record/\$type must be a string$"):
        validate_record(lex, NSID, {})
    with pytest.raises(LexiconValidationError, match=r"Record/\$type must be com.example.test"):
        validate_record(lex, NSID, {"$type": f"{NSID}#main"})
    with pytest.raises(LexiconValidationError, match=r"Record/\$type must be com.example.test"):
        validate_record(lex, NSID, {"$type": "com.example.other"})
    with pytest.raises(LexiconValidationError, match=r"^Record must be an object$"):
        validate_record(lex, NSID, ["not", "a", "record"])


def test_unknown_collection_and_wrong_kind() -> None:
    lex = lexicons_for({"s": {"type": "string"}})
    with pytest.raises(LexiconNotFoundError):
        validate_record(lex, "com.example.nothere", {"$type": "com.example.nothere"})
    lex.add(
        {
            "lexicon": 1,
            "id": "com.example.obj",
            "defs": {"main": {"type": "object", "properties": {}}},
        }
    )
    with pytest.raises(LexiconError, match=r"Not a record lexicon"):
        validate_record(lex, "com.example.obj", {"$type": "com.example.obj"})


def test_extra_fields_are_allowed() -> None:
    check(lexicons_for({"a": {"type": "integer"}}), a=1, somethingNew={"x": [1, 2]})


def test_records_are_not_rewritten_with_defaults() -> None:
    lex = lexicons_for({"n": {"type": "integer", "default": 7}})
    value = record()
    validate_record(lex, NSID, value)
    assert value == record()


# -- boolean and integer ----------------------------------------------------------------------


def test_boolean() -> None:
    lex = lexicons_for({"b": {"type": "boolean"}, "t": {"type": "boolean", "const": True}})
    check(lex, b=False, t=True)
    fails(lex, "Record/b must be a boolean", b=0)
    fails(lex, "Record/b must be a boolean", b="true")
    fails(lex, "Record/t must be true", t=False)


def test_integer() -> None:
    lex = lexicons_for(
        {
            "i": {"type": "integer"},
            "range": {"type": "integer", "minimum": 10, "maximum": 20},
            "enum": {"type": "integer", "enum": [4, 9, 16]},
            "const": {"type": "integer", "const": 42},
        }
    )
    check(lex, i=-(2**53), range=10, enum=9, const=42)
    check(lex, range=20)
    fails(lex, "Record/i must be an integer", i=1.0)
    fails(lex, "Record/i must be an integer", i=True)
    fails(lex, "Record/i must be an integer", i="1")
    fails(lex, "Record/range can not be less than 10", range=9)
    fails(lex, "Record/range can not be greater than 20", range=21)
    fails(lex, "Record/enum must be one of (4|9|16)", enum=5)
    fails(lex, "Record/const must be 42", const=41)


def test_missing_required_property_with_default_is_accepted() -> None:
    lex = lexicons_for({"n": {"type": "integer", "default": 3}}, required=["n"])
    check(lex)


# -- strings ----------------------------------------------------------------------------------


def test_string_type_const_enum_known_values() -> None:
    lex = lexicons_for(
        {
            "s": {"type": "string"},
            "const": {"type": "string", "const": "fixed"},
            "enum": {"type": "string", "enum": ["fish", "tree"]},
            "known": {"type": "string", "knownValues": ["blue", "red"]},
        }
    )
    check(lex, s="", const="fixed", enum="tree", known="not in the list")
    fails(lex, "Record/s must be a string", s=b"bytes")
    fails(lex, "Record/const must be fixed", const="other")
    fails(lex, "Record/enum must be one of (fish|tree)", enum="rock")
    fails(lex, "Record/known must be a string", known=5)


def test_string_length_counts_utf8_bytes() -> None:
    lex = lexicons_for({"s": {"type": "string", "minLength": 3, "maxLength": 6}})
    check(lex, s="abc")
    check(lex, s="ééé")  # 3 characters, 6 bytes
    check(lex, s="€")  # 1 character, 3 bytes
    fails(lex, "Record/s must not be longer than 6 characters", s="éééé")  # 8 bytes
    fails(lex, "Record/s must not be longer than 6 characters", s="😀😀")  # 8 bytes
    fails(lex, "Record/s must not be shorter than 3 characters", s="é")
    fails(lex, "Record/s must not be shorter than 3 characters", s="ab")


def test_string_max_length_only() -> None:
    lex = lexicons_for({"s": {"type": "string", "maxLength": 8}})
    check(lex, s="ab")
    check(lex, s="😀😀")
    fails(lex, "Record/s must not be longer than 8 characters", s="😀😀x")


FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # one grapheme, 7 code points, 25 bytes
FLAG = "🇫🇷"  # one grapheme, 2 regional indicators
E_ACUTE = "e\u0301"  # one grapheme, combining mark
THUMBS = "👍🏽"  # one grapheme, emoji + skin tone modifier


@pytest.mark.parametrize(
    ("text", "graphemes"),
    [
        ("hello", 5),
        ("a\r\nb", 3),
        (FAMILY, 1),
        (FAMILY * 3, 3),
        (FLAG + "🇩🇪", 2),
        (E_ACUTE * 4, 4),
        ("Z\u0351\u0356\u0320a", 2),
        (THUMBS + "!", 2),
        ("🏳️\u200d🌈", 1),
        ("한국어", 3),
        ("\u1100\u1161\u11a8", 1),  # conjoining jamo form one syllable
    ],
)
def test_grapheme_length(text: str, graphemes: int) -> None:
    exact = lexicons_for(
        {"s": {"type": "string", "minGraphemes": graphemes, "maxGraphemes": graphemes}}
    )
    check(exact, s=text)
    fewer = lexicons_for({"s": {"type": "string", "maxGraphemes": graphemes - 1}})
    fails(fewer, f"Record/s must not be longer than {graphemes - 1} graphemes", s=text)
    more = lexicons_for({"s": {"type": "string", "minGraphemes": graphemes + 1}})
    fails(more, f"Record/s must not be shorter than {graphemes + 1} graphemes", s=text)


def test_post_text_limits() -> None:
    lex = lexicons_for({"text": {"type": "string", "maxLength": 3000, "maxGraphemes": 300}})
    check(lex, text="x" * 300)
    check(lex, text=FAMILY * 100)  # 700 code points, 2500 bytes, 100 graphemes
    fails(lex, "Record/text must not be longer than 300 graphemes", text="x" * 301)
    fails(lex, "Record/text must not be longer than 3000 characters", text=FAMILY * 121)


@pytest.mark.parametrize(
    ("fmt", "good", "bad", "reason"),
    [
        ("datetime", "1985-04-12T23:20:50.123Z", "1985-04-12", "must be a valid atproto datetime"),
        ("did", "did:plc:abc123", "plc:abc", "must be a valid did"),
        ("handle", "alice.bsky.social", "alice", "must be a valid handle"),
        ("at-identifier", "did:web:example.com", "not valid!", "must be a valid did or a handle"),
        ("at-uri", "at://did:plc:abc/app.bsky.feed.post/3k", "https://x", "must be a valid at-uri"),
        ("nsid", "app.bsky.feed.post", "app", "must be a valid nsid"),
        (
            "cid",
            "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a",
            "x",
            "must be a cid string",
        ),
        ("language", "pt-BR", "12-!", "must be a well-formed BCP 47 language tag"),
        ("tid", "3jzfcijpj2z2a", "3jzfcijpj2z2", "must be a valid TID"),
        ("record-key", "self", "..", "must be a valid Record Key"),
        ("uri", "https://example.com/x", "no scheme", "must be a uri"),
    ],
)
def test_string_formats(fmt: str, good: str, bad: str, reason: str) -> None:
    lex = lexicons_for({"s": {"type": "string", "format": fmt}})
    check(lex, s=good)
    with pytest.raises(LexiconValidationError, match=f"^Record/s {reason}"):
        check(lex, s=bad)


# -- bytes, cid-link, unknown -----------------------------------------------------------------


def test_bytes() -> None:
    lex = lexicons_for({"b": {"type": "bytes", "minLength": 2, "maxLength": 4}})
    check(lex, b=b"\x00\x01")
    fails(lex, "Record/b must be a byte array", b="AAE=")
    fails(lex, "Record/b must not be larger than 4 bytes", b=b"12345")
    fails(lex, "Record/b must not be smaller than 2 bytes", b=b"1")


def test_cid_link() -> None:
    lex = lexicons_for({"c": {"type": "cid-link"}})
    check(lex, c=cid_for_cbor(b"\xa0"))
    fails(
        lex,
        "Record/c must be a CID",
        c="bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a",
    )
    fails(
        lex,
        "Record/c must be a CID",
        c={"$link": "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a"},
    )


def test_unknown_must_be_an_object() -> None:
    lex = lexicons_for({"u": {"type": "unknown"}})
    check(lex, u={})
    check(lex, u={"$type": "com.example.whatever", "x": [1, b"2"]})
    fails(lex, "Record/u must be an object", u="text")
    fails(lex, "Record/u must be an object", u=[{}])
    fails(lex, "Record/u must be an object", u=None)
    fails(lex, "Record/u must be an object, not a blob", u={"$type": "blob"})


# -- arrays and objects -----------------------------------------------------------------------


def test_array() -> None:
    lex = lexicons_for(
        {
            "a": {
                "type": "array",
                "items": {"type": "integer", "maximum": 9},
                "minLength": 2,
                "maxLength": 3,
            }
        }
    )
    check(lex, a=[1, 2])
    fails(lex, "Record/a must be an array", a=(1, 2))
    fails(lex, "Record/a must not have fewer than 2 elements", a=[1])
    fails(lex, "Record/a must not have more than 3 elements", a=[1, 2, 3, 4])
    fails(lex, "Record/a/1 can not be greater than 9", a=[1, 10])


def test_nested_paths() -> None:
    lex = lexicons_for(
        {
            "outer": {
                "type": "object",
                "properties": {
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {"name": {"type": "string"}},
                        },
                    }
                },
            }
        }
    )
    check(lex, outer={"items": [{"name": "a"}]})
    fails(
        lex,
        "Record/outer/items/1/name must be a string",
        outer={"items": [{"name": "a"}, {"name": 2}]},
    )
    fails(lex, 'Record/outer/items/0 must have the property "name"', outer={"items": [{}]})
    fails(lex, "Record/outer must be an object", outer="x")


def test_required_and_nullable() -> None:
    lex = lexicons_for(
        {
            "req": {"type": "string"},
            "nul": {"type": "string"},
            "both": {"type": "string"},
            "plain": {"type": "string"},
        },
        required=["req", "both"],
        nullable=["nul", "both"],
    )
    check(lex, req="x", both=None)
    check(lex, req="x", both="y", nul=None)
    fails(lex, 'Record must have the property "req"', both=None)
    fails(lex, 'Record must have the property "both"', req="x")
    fails(lex, "Record/req must be a string", req=None, both=None)
    fails(lex, "Record/plain must be a string", req="x", both=None, plain=None)


def test_refs_local_and_global() -> None:
    defs_doc = {
        "lexicon": 1,
        "id": "com.example.defs",
        "defs": {
            "strongRef": {
                "type": "object",
                "required": ["uri"],
                "properties": {"uri": {"type": "string", "format": "at-uri"}},
            },
            "short": {"type": "string", "maxLength": 3},
        },
    }
    lex = lexicons_for(
        {
            "local": {"type": "ref", "ref": "#self"},
            "global": {"type": "ref", "ref": "com.example.defs#strongRef"},
            "str": {"type": "ref", "ref": "com.example.defs#short"},
        },
        defs_doc,
    )
    check(lex, str="abc", **{"global": {"uri": "at://did:plc:abc/app.bsky.feed.post/1"}})
    fails(lex, "Record/str must not be longer than 3 characters", str="abcd")
    fails(lex, 'Record/global must have the property "uri"', **{"global": {}})
    with pytest.raises(LexiconNotFoundError):  # the record document has no #self definition
        check(lex, local={})


def test_recursive_schema() -> None:
    tree = {
        "lexicon": 1,
        "id": "com.example.tree",
        "defs": {
            "node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "children": {"type": "array", "items": {"type": "ref", "ref": "#node"}},
                },
            }
        },
    }
    lex = Lexicons([tree])
    deep: dict[str, Any] = {"value": 1}
    for _ in range(50):
        deep = {"value": 1, "children": [deep]}
    validate_object(lex, "com.example.tree#node", deep)
    deep["children"][0]["children"][0]["value"] = "x"
    with pytest.raises(
        LexiconValidationError, match=r"^Object/children/0/children/0/value must be"
    ):
        validate_object(lex, "com.example.tree#node", deep)


def test_too_deep_values_fail_cleanly() -> None:
    tree = {
        "lexicon": 1,
        "id": "com.example.tree",
        "defs": {
            "node": {
                "type": "object",
                "properties": {"child": {"type": "ref", "ref": "#node"}},
            }
        },
    }
    lex = Lexicons([tree])
    deep: dict[str, Any] = {}
    for _ in range(5000):
        deep = {"child": deep}
    with pytest.raises(LexiconValidationError, match=r"^Object is nested too deeply$"):
        validate_object(lex, "com.example.tree#node", deep)


def test_validate_object_kinds() -> None:
    lex = lexicons_for({"n": {"type": "integer"}})
    validate_object(lex, NSID, {"n": 1})
    with pytest.raises(LexiconValidationError, match=r"^Object/n must be an integer$"):
        validate_object(lex, NSID, {"n": "1"})
    with pytest.raises(LexiconValidationError, match=r"^Object must be an object$"):
        validate_object(lex, NSID, 5)
    lex.add({"lexicon": 1, "id": "com.example.tok", "defs": {"main": {"type": "token"}}})
    with pytest.raises(LexiconError):
        validate_object(lex, "com.example.tok", {})
