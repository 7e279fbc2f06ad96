"""Parsing and structural validation of Lexicon v1 documents.

https://atproto.com/specs/lexicon#lexicon-files (file layout, where primary types may appear),
#primary-type-definitions and #field-type-definitions (the fields each type may carry).
Unknown extra fields in a definition are ignored, as they are by the reference implementation.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sonet.lexicons.errors import LexiconError
from sonet.lexicons.refs import absolute_ref, is_valid_def_name, is_valid_ref
from sonet.syntax.formats import FORMAT_NAMES, validate_format
from sonet.syntax.nsid import is_valid_nsid
from sonet.syntax.recordkey import is_valid_record_key

__all__ = [
    "FIELD_TYPES",
    "PRIMARY_TYPES",
    "LexiconDoc",
    "iter_refs",
    "parse_lexicon",
]

PRIMARY_TYPES = frozenset({"record", "query", "procedure", "subscription", "permission-set"})
"""Types that may only appear once per document, as its ``main`` definition."""

FIELD_TYPES = frozenset(
    {
        "boolean",
        "integer",
        "string",
        "bytes",
        "cid-link",
        "blob",
        "array",
        "object",
        "ref",
        "union",
        "unknown",
    }
)
"""Types allowed for object properties and array items."""

_NAMED_TYPES = PRIMARY_TYPES | (FIELD_TYPES - {"ref", "union", "unknown"}) | {"token"}
_PARAM_TYPES = frozenset({"boolean", "integer", "string"})
_BODY_SCHEMA_TYPES = frozenset({"object", "ref", "union"})
_RECORD_KEY_TYPES = frozenset({"tid", "nsid", "any"})


@dataclass(frozen=True, slots=True)
class LexiconDoc:
    """A structurally valid lexicon document; ``defs`` maps definition names to their schema."""

    id: str
    defs: Mapping[str, Mapping[str, Any]]
    description: str | None = None
    revision: int | None = None


def parse_lexicon(doc: object) -> LexiconDoc:
    """Validate a lexicon document (decoded JSON) and return it as a :class:`LexiconDoc`.

    The definitions are deep-copied, so later changes to ``doc`` do not affect the result.
    Raises :class:`LexiconError` naming the first problem found.
    """
    if not isinstance(doc, Mapping):
        raise LexiconError("a lexicon document must be a JSON object")
    if not _is_int(doc.get("lexicon")) or doc["lexicon"] != 1:
        raise LexiconError(f"unsupported lexicon version {doc.get('lexicon')!r} (must be 1)")
    nsid = doc.get("id")
    if not isinstance(nsid, str) or not is_valid_nsid(nsid):
        raise LexiconError(f"lexicon id {nsid!r} is not a valid NSID")
    _optional(doc, "description", str, nsid)
    _optional(doc, "revision", int, nsid)
    defs = doc.get("defs")
    if not isinstance(defs, Mapping) or not defs:
        raise LexiconError(f"{nsid}: defs must be a non-empty object")
    for name, definition in defs.items():
        where = f"{nsid}#{name}"
        if not is_valid_def_name(name):
            raise LexiconError(f"{nsid}: invalid definition name {name!r}")
        kind = _type_of(definition, where)
        if kind not in _NAMED_TYPES:
            raise LexiconError(f"{where}: type {kind!r} can not be a named definition")
        if kind in PRIMARY_TYPES and name != "main":
            raise LexiconError(f"{where}: a {kind} definition must be named main")
        _check_named(definition, kind, where)
    return LexiconDoc(
        id=nsid,
        defs=copy.deepcopy(dict(defs)),
        description=doc.get("description"),
        revision=doc.get("revision"),
    )


def iter_refs(doc: LexiconDoc) -> Iterator[tuple[str, str]]:
    """Yield ``(where, absolute_ref)`` for every ``ref`` and ``union`` member in ``doc``."""
    for name, definition in doc.defs.items():
        yield from _walk_refs(definition, f"{doc.id}#{name}", doc.id)


def _walk_refs(node: object, where: str, nsid: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        kind = node.get("type")
        if kind == "ref":
            yield where, absolute_ref(node["ref"], nsid)
        elif kind == "union":
            for ref in node["refs"]:
                yield where, absolute_ref(ref, nsid)
        for key, child in node.items():
            yield from _walk_refs(child, f"{where}/{key}", nsid)
    elif isinstance(node, list):
        for child in node:
            yield from _walk_refs(child, where, nsid)


# -- helpers ---------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _schema(definition: object, where: str) -> Mapping[str, Any]:
    """``definition`` as a schema object with a string ``type``, or :class:`LexiconError`."""
    if not isinstance(definition, Mapping):
        raise LexiconError(f"{where}: a schema definition must be an object")
    if not isinstance(definition.get("type"), str):
        raise LexiconError(f"{where}: a schema definition needs a string type")
    return definition


def _type_of(definition: object, where: str) -> str:
    kind: str = _schema(definition, where)["type"]
    return kind


def _optional(definition: Mapping[str, Any], key: str, kind: type, where: str) -> None:
    """Check that ``definition[key]``, when present, has type ``kind`` (ints exclude bools)."""
    if key not in definition:
        return
    value = definition[key]
    ok = _is_int(value) if kind is int else isinstance(value, kind)
    if not ok:
        raise LexiconError(f"{where}: {key} must be of type {kind.__name__}")


def _optional_list(definition: Mapping[str, Any], key: str, kind: type, where: str) -> None:
    if key not in definition:
        return
    values = definition[key]
    ok = _is_int if kind is int else (lambda item: isinstance(item, kind))
    if not isinstance(values, list) or not all(ok(item) for item in values):
        raise LexiconError(f"{where}: {key} must be an array of {kind.__name__}")


def _optional_size(definition: Mapping[str, Any], low: str, high: str, where: str) -> None:
    """Check a pair of non-negative integer bounds such as ``minLength``/``maxLength``."""
    for key in (low, high):
        _optional(definition, key, int, where)
        if key in definition and definition[key] < 0:
            raise LexiconError(f"{where}: {key} must not be negative")
    if low in definition and high in definition and definition[low] > definition[high]:
        raise LexiconError(f"{where}: {low} is greater than {high}")


def _description(definition: Mapping[str, Any], where: str) -> None:
    _optional(definition, "description", str, where)


# -- named definitions -----------------------------------------------------------------------


def _check_named(definition: Mapping[str, Any], kind: str, where: str) -> None:
    if kind == "record":
        _check_record(definition, where)
    elif kind in ("query", "procedure"):
        _check_xrpc(definition, kind, where)
    elif kind == "subscription":
        _check_subscription(definition, where)
    elif kind == "permission-set":
        _check_permission_set(definition, where)
    elif kind == "token":
        _description(definition, where)
    else:
        _check_field(definition, where)


def _check_record(definition: Mapping[str, Any], where: str) -> None:
    _description(definition, where)
    key = definition.get("key")
    if not isinstance(key, str) or not _is_record_key_type(key):
        raise LexiconError(f"{where}: record key type {key!r} is not tid, nsid, any or literal:*")
    record = _schema(definition.get("record"), f"{where}/record")
    if record["type"] != "object":
        raise LexiconError(f"{where}: record must be a schema of type object")
    _check_field(record, f"{where}/record")


def _is_record_key_type(key: str) -> bool:
    if key.startswith("literal:"):
        return is_valid_record_key(key.removeprefix("literal:"))
    return key in _RECORD_KEY_TYPES


def _check_xrpc(definition: Mapping[str, Any], kind: str, where: str) -> None:
    _description(definition, where)
    if "parameters" in definition:
        _check_params(definition["parameters"], f"{where}/parameters")
    if "input" in definition:
        if kind != "procedure":
            raise LexiconError(f"{where}: only a procedure can have an input")
        _check_body(definition["input"], f"{where}/input")
    if "output" in definition:
        _check_body(definition["output"], f"{where}/output")
    _check_errors(definition, where)


def _check_subscription(definition: Mapping[str, Any], where: str) -> None:
    _description(definition, where)
    if "parameters" in definition:
        _check_params(definition["parameters"], f"{where}/parameters")
    message = definition.get("message")
    if not isinstance(message, Mapping):
        raise LexiconError(f"{where}: a subscription needs a message object")
    _description(message, f"{where}/message")
    if _type_of(message.get("schema"), f"{where}/message/schema") != "union":
        raise LexiconError(f"{where}: a subscription message schema must be a union")
    _check_field(message["schema"], f"{where}/message/schema")
    _check_errors(definition, where)


def _check_params(definition: object, where: str) -> None:
    params = _schema(definition, where)
    if params["type"] != "params":
        raise LexiconError(f"{where}: parameters must be of type params")
    _description(params, where)
    properties = _check_properties(params, where)
    for name, prop in properties.items():
        kind = _type_of(prop, f"{where}/{name}")
        item_kind = (
            _type_of(prop.get("items"), f"{where}/{name}/items") if kind == "array" else kind
        )
        if item_kind not in _PARAM_TYPES:
            raise LexiconError(
                f"{where}/{name}: params only hold boolean, integer, string or arrays of them"
            )
        _check_field(prop, f"{where}/{name}")


def _check_body(body: object, where: str) -> None:
    if not isinstance(body, Mapping):
        raise LexiconError(f"{where}: must be an object")
    _description(body, where)
    encoding = body.get("encoding")
    if not isinstance(encoding, str) or not encoding:
        raise LexiconError(f"{where}: encoding must be a MIME type string")
    if "schema" in body:
        schema = body["schema"]
        if _type_of(schema, f"{where}/schema") not in _BODY_SCHEMA_TYPES:
            raise LexiconError(f"{where}: schema must be an object, a ref or a union")
        _check_field(schema, f"{where}/schema")


def _check_errors(definition: Mapping[str, Any], where: str) -> None:
    errors = definition.get("errors", [])
    if not isinstance(errors, list):
        raise LexiconError(f"{where}: errors must be an array")
    for error in errors:
        name = error.get("name") if isinstance(error, Mapping) else None
        if not isinstance(name, str) or not name or any(c.isspace() for c in name):
            raise LexiconError(f"{where}: each error needs a name without whitespace")
        _description(error, f"{where}/errors/{name}")


def _check_permission_set(definition: Mapping[str, Any], where: str) -> None:
    _description(definition, where)
    for key in ("title", "detail"):
        _optional(definition, key, str, where)
        translations = definition.get(f"{key}:lang", {})
        if not isinstance(translations, Mapping) or not all(
            isinstance(lang, str) and validate_format("language", lang) and isinstance(text, str)
            for lang, text in translations.items()
        ):
            raise LexiconError(f"{where}: {key}:lang must map language tags to strings")
    permissions = definition.get("permissions")
    if not isinstance(permissions, list):
        raise LexiconError(f"{where}: permissions must be an array")
    for index, permission in enumerate(permissions):
        _check_permission(permission, f"{where}/permissions/{index}")


def _check_permission(definition: object, where: str) -> None:
    permission = _schema(definition, where)
    if permission["type"] != "permission":
        raise LexiconError(f"{where}: must be of type permission")
    resource = permission.get("resource")
    if not isinstance(resource, str) or not resource:
        raise LexiconError(f"{where}: resource must be a non-empty string")
    for key, value in permission.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str | int) for item in values):
            raise LexiconError(f"{where}: {key} must be a string, integer, boolean or an array")


# -- field definitions -----------------------------------------------------------------------


def _check_field(definition: Mapping[str, Any], where: str) -> None:
    kind = _type_of(definition, where)
    _description(definition, where)
    check = _FIELD_CHECKS.get(kind)
    if check is None:
        raise LexiconError(f"{where}: type {kind!r} is not allowed here")
    check(definition, where)


def _check_boolean(definition: Mapping[str, Any], where: str) -> None:
    _optional(definition, "default", bool, where)
    _optional(definition, "const", bool, where)


def _check_integer(definition: Mapping[str, Any], where: str) -> None:
    for key in ("default", "const", "minimum", "maximum"):
        _optional(definition, key, int, where)
    _optional_list(definition, "enum", int, where)
    low, high = definition.get("minimum"), definition.get("maximum")
    if low is not None and high is not None and low > high:
        raise LexiconError(f"{where}: minimum is greater than maximum")


def _check_string(definition: Mapping[str, Any], where: str) -> None:
    if "format" in definition and definition["format"] not in FORMAT_NAMES:
        raise LexiconError(f"{where}: unknown string format {definition['format']!r}")
    _optional_size(definition, "minLength", "maxLength", where)
    _optional_size(definition, "minGraphemes", "maxGraphemes", where)
    for key in ("default", "const"):
        _optional(definition, key, str, where)
    if "default" in definition and "const" in definition:
        raise LexiconError(f"{where}: const and default are mutually exclusive")
    _optional_list(definition, "enum", str, where)
    _optional_list(definition, "knownValues", str, where)


def _check_bytes(definition: Mapping[str, Any], where: str) -> None:
    _optional_size(definition, "minLength", "maxLength", where)


def _check_nothing(definition: Mapping[str, Any], where: str) -> None:
    """``cid-link`` and ``unknown`` have no type-specific fields."""


def _check_blob(definition: Mapping[str, Any], where: str) -> None:
    _optional_list(definition, "accept", str, where)
    for pattern in definition.get("accept", []):
        if not _is_mime_pattern(pattern):
            raise LexiconError(f"{where}: invalid accept pattern {pattern!r}")
    _optional(definition, "maxSize", int, where)


def _is_mime_pattern(pattern: str) -> bool:
    """``*/*``, ``type/*`` or ``type/subtype``; partial globs and a lone ``*`` are not allowed."""
    kind, slash, subtype = pattern.partition("/")
    if not slash or not kind or not subtype or "/" in subtype:
        return False
    if kind == "*":
        return subtype == "*"
    return "*" not in kind and (subtype == "*" or "*" not in subtype)


def _check_array(definition: Mapping[str, Any], where: str) -> None:
    _optional_size(definition, "minLength", "maxLength", where)
    items = _schema(definition.get("items"), f"{where}/items")
    if items["type"] not in FIELD_TYPES:
        raise LexiconError(f"{where}: array items of type {items['type']!r} are not allowed")
    _check_field(items, f"{where}/items")


def _check_properties(definition: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """Check ``properties`` and ``required`` (shared by ``object`` and ``params``)."""
    properties = definition.get("properties")
    if not isinstance(properties, Mapping):
        raise LexiconError(f"{where}: properties must be an object")
    _optional_list(definition, "required", str, where)
    for name in definition.get("required", []):
        if name not in properties:
            raise LexiconError(f"{where}: required property {name!r} is not defined")
    for name in properties:
        if not isinstance(name, str) or not name:
            raise LexiconError(f"{where}: property names must be non-empty strings")
    return properties


def _check_object(definition: Mapping[str, Any], where: str) -> None:
    properties = _check_properties(definition, where)
    _optional_list(definition, "nullable", str, where)
    for name, prop in properties.items():
        if _type_of(prop, f"{where}/{name}") not in FIELD_TYPES:
            raise LexiconError(f"{where}/{name}: type {prop['type']!r} is not allowed here")
        _check_field(prop, f"{where}/{name}")


def _check_ref(definition: Mapping[str, Any], where: str) -> None:
    if not is_valid_ref(definition.get("ref")):
        raise LexiconError(f"{where}: invalid ref {definition.get('ref')!r}")


def _check_union(definition: Mapping[str, Any], where: str) -> None:
    refs = definition.get("refs")
    if not isinstance(refs, list) or not all(is_valid_ref(ref) for ref in refs):
        raise LexiconError(f"{where}: refs must be an array of valid references")
    _optional(definition, "closed", bool, where)
    if definition.get("closed") and not refs:
        raise LexiconError(f"{where}: a closed union needs at least one ref")


_FIELD_CHECKS = {
    "boolean": _check_boolean,
    "integer": _check_integer,
    "string": _check_string,
    "bytes": _check_bytes,
    "cid-link": _check_nothing,
    "unknown": _check_nothing,
    "blob": _check_blob,
    "array": _check_array,
    "object": _check_object,
    "ref": _check_ref,
    "union": _check_union,
}
