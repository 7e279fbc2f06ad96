"""Compile lexicon schema definitions into fast validator closures.

https://atproto.com/specs/lexicon#field-type-definitions gives the types and constraints.
A validator takes a data-model value (``bytes``, :class:`~sonet.repo.cid.CID`, blob dicts) and
returns it, or a shallow copy with ``default`` values filled in for missing properties; on bad
data it raises :class:`Invalid`, whose ``path`` is filled in (innermost part first) while the
exception travels up, so valid data pays nothing for error paths. References are bound through
a resolver, which can defer them (:func:`lazy_ref`) for recursive schemas and documents that
are added later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from sonet.lexicons.blobs import blob_info, mime_accepted
from sonet.lexicons.errors import LexiconError
from sonet.lexicons.refs import absolute_ref
from sonet.lexicons.strings import grapheme_len, utf8_len
from sonet.repo.cid import CID
from sonet.syntax.formats import validate_format

__all__ = [
    "MISSING",
    "Invalid",
    "Resolver",
    "Validator",
    "compile_field",
    "compile_named",
    "lazy_ref",
]

Validator = Callable[[Any], Any]
Resolver = Callable[[str], Validator]
"""Maps an absolute reference (``nsid#name``) to the validator of that named definition; it may
return a :func:`lazy_ref` where the target is not compiled yet (cycles, missing documents)."""

MISSING: Any = object()
"""Marks an absent property or an absent ``default``."""

_FORMAT_REASONS = {
    "at-identifier": "must be a valid did or a handle",
    "at-uri": "must be a valid at-uri",
    "cid": "must be a cid string",
    "datetime": "must be a valid atproto datetime (both RFC-3339 and ISO-8601)",
    "did": "must be a valid did",
    "handle": "must be a valid handle",
    "language": "must be a well-formed BCP 47 language tag",
    "nsid": "must be a valid nsid",
    "record-key": "must be a valid Record Key",
    "tid": "must be a valid TID",
    "uri": "must be a uri",
}
_SCALARS_WITH_DEFAULTS = frozenset({"boolean", "integer", "string"})


class Invalid(Exception):
    """Internal signal of a validation failure; ``path`` lists keys innermost first."""

    __slots__ = ("path", "reason")

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []


def _shown(value: object) -> str:
    """Render a constant the way the reference messages do (``true``, not ``True``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def compile_named(definition: Mapping[str, Any], nsid: str, resolve: Resolver) -> Validator:
    """Validator for a named definition reached through a ``ref`` or a ``union``.

    A ``record`` validates as its record object; a ``token`` (only meaningful as a union
    member's ``$type``) accepts any object; XRPC and permission types raise
    :class:`LexiconError`, since no data value can take their place.
    """
    kind = definition.get("type")
    if kind == "record":
        return compile_field(definition["record"], nsid, resolve)
    if kind == "token":
        return _compile_token(definition, nsid, resolve)
    if kind in ("query", "procedure", "subscription", "permission-set"):
        raise LexiconError(f"a {kind} definition can not describe a data value")
    return compile_field(definition, nsid, resolve)


def compile_field(definition: Mapping[str, Any], nsid: str, resolve: Resolver) -> Validator:
    """Validator for a field schema (object property, array item, body schema, ...)."""
    kind = definition.get("type")
    build = _BUILDERS.get(kind) if isinstance(kind, str) else None
    if build is None:
        raise LexiconError(f"{nsid}: can not validate values of type {kind!r}")
    return build(definition, nsid, resolve)


def lazy_ref(ref: str, resolve: Resolver) -> Validator:
    """Validator that resolves (and compiles) the absolute ``ref`` on its first use."""
    target: Validator | None = None

    def check_ref(value: Any) -> Any:
        nonlocal target
        if target is None:
            target = resolve(ref)
        return target(value)

    return check_ref


# -- concrete types --------------------------------------------------------------------------


def _compile_boolean(definition: Mapping[str, Any], nsid: str, resolve: Resolver) -> Validator:
    const = definition.get("const")

    def check_boolean(value: Any) -> Any:
        if type(value) is not bool:
            raise Invalid("must be a boolean")
        if const is not None and value is not const:
            raise Invalid(f"must be {_shown(const)}")
        return value

    return check_boolean


def _compile_integer(definition: Mapping[str, Any], nsid: str, resolve: Resolver) -> Validator:
    const = definition.get("const")
    enum = definition.get("enum")
    allowed = frozenset(enum) if enum is not None else None
    enum_reason = f"must be one of ({'|'.join(map(str, enum or ()))})"
    maximum = definition.get("maximum")
    minimum = definition.get("minimum")

    def check_integer(value: Any) -> Any:
        if type(value) is not int:
            raise Invalid("must be an integer")
        if const is not None and value != const:
            raise Invalid(f"must be {const}")
        if allowed is not None and value not in allowed:
            raise Invalid(enum_reason)
        if maximum is not None and value > maximum:
            raise Invalid(f"can not be greater than {maximum}")
        if minimum is not None and value < minimum:
            raise Invalid(f"can not be less than {minimum}")
        return value

    return check_integer


def _check_plain_string(value: Any) -> Any:
    if type(value) is not str:
        raise Invalid("must be a string")
    return value


def _compile_string(definition: Mapping[str, Any], nsid: str, resolve: Resolver) -> Validator:
    const = definition.get("const")
    enum = definition.get("enum")
    allowed = frozenset(enum) if enum is not None else None
    enum_reason = f"must be one of ({'|'.join(enum or ())})"
    min_len = definition.get("minLength")
    max_len = definition.get("maxLength")
    min_gr = definition.get("minGraphemes")
    max_gr = definition.get("maxGraphemes")
    fmt = definition.get("format")
    constraints = (const, enum, min_len, max_len, min_gr, max_gr, fmt)
    if all(constraint is None for constraint in constraints):
        return _check_plain_string
    fmt_ok = partial(validate_format, fmt) if fmt is not None else None
    fmt_reason = _FORMAT_REASONS.get(fmt or "", f"must match format {fmt}")
    lengths = min_len is not None or max_len is not None
    graphemes = min_gr is not None or max_gr is not None

    def check_string(value: Any) -> Any:
        if type(value) is not str:
            raise Invalid("must be a string")
        if const is not None and value != const:
            raise Invalid(f"must be {const}")
        if allowed is not None and value not in allowed:
            raise Invalid(enum_reason)
        if lengths:
            _check_utf8_length(value, min_len, max_len)
        if graphemes:
            _check_grapheme_length(value, min_gr, max_gr)
        if fmt_ok is not None and not fmt_ok(value):
            raise Invalid(fmt_reason)
        return value

    return check_string


def _check_utf8_length(value: str, min_len: int | None, max_len: int | None) -> None:
    # A code point takes at most 4 UTF-8 bytes, so short strings need no encoding.
    if min_len is None and max_len is not None and len(value) * 4 <= max_len:
        return
    size = utf8_len(value)
    if max_len is not None and size > max_len:
        raise Invalid(f"must not be longer than {max_len} characters")
    if min_len is not None and size < min_len:
        raise Invalid(f"must not be shorter than {min_len} characters")


def _check_grapheme_length(value: str, min_gr: int | None, max_gr: int | None) -> None:
    # A grapheme cluster holds at least one code point, which bounds the count from above.
    if min_gr is not None and len(value) < min_gr:
        raise Invalid(f"must not be shorter than {min_gr} graphemes")
    if max_gr is not None and len(value) <= max_gr and min_gr is None:
        return
    count = grapheme_len(value)
    if max_gr is not None and count > max_gr:
        raise Invalid(f"must not be longer than {max_gr} graphemes")
    if min_gr is not None and count < min_gr:
        raise Invalid(f"must not be shorter than {min_gr} graphemes")


def _compile_bytes(definition: Mapping[str, Any], nsid: str, resolve: Resolver) -> Validator:
    min_len = definition.get("minLength")
    max_len = definition.get("maxLength")

    def check_bytes(value: Any) -> Any:
        if not isinstance(value, bytes):
            raise Invalid("must be a byte array")
        if max_len is not None and len(value) > max_len:
            raise Invalid(f"must not be larger than {max_len} bytes")
        if min_len is not None and len(value) < min_len:
            raise Invalid(f"must not be smaller than {min_len} bytes")
        return value

    return check_bytes


def _compile_cid_link(definition: Mapping[str, Any], nsid: str, resolve: Resolver) -> Validator:
    def check_cid_link(value: Any) -> Any:
        if not isinstance(value, CID):
            raise Invalid("must be a CID")
        return value

    return check_cid_link


def _compile_blob(definition: Mapping[str, Any], nsid: str, resolve: Resolver) -> Validator:
    accept = definition.get("accept")
    patterns = None if accept is None or "*/*" in accept else tuple(accept)
    max_size = definition.get("maxSize")

    def check_blob(value: Any) -> Any:
        info = blob_info(value)
        if info is None:
            raise Invalid("should be a blob ref")
        mime, size = info
        if patterns is not None and not mime_accepted(mime, patterns):
            raise Invalid(f"has MIME type {mime}, which must match {', '.join(patterns)}")
        if max_size is not None and size is not None and size > max_size:
            raise Invalid(f"must not be larger than {max_size} bytes")
        return value

    return check_blob


def _compile_unknown(definition: Mapping[str, Any], nsid: str, resolve: Resolver) -> Validator:
    def check_unknown(value: Any) -> Any:
        if not isinstance(value, dict):
            raise Invalid("must be an object")
        if value.get("$type") == "blob":
            raise Invalid("must be an object, not a blob")
        return value

    return check_unknown


def _compile_token(definition: Mapping[str, Any], nsid: str, resolve: Resolver) -> Validator:
    def check_token(value: Any) -> Any:
        if not isinstance(value, dict):
            raise Invalid("must be an object")
        return value

    return check_token


# -- containers and references ---------------------------------------------------------------


def _compile_array(definition: Mapping[str, Any], nsid: str, resolve: Resolver) -> Validator:
    min_len = definition.get("minLength")
    max_len = definition.get("maxLength")
    check_item = compile_field(definition["items"], nsid, resolve)

    def check_array(value: Any) -> Any:
        if not isinstance(value, list):
            raise Invalid("must be an array")
        if max_len is not None and len(value) > max_len:
            raise Invalid(f"must not have more than {max_len} elements")
        if min_len is not None and len(value) < min_len:
            raise Invalid(f"must not have fewer than {min_len} elements")
        result = value
        for index, item in enumerate(value):
            try:
                checked = check_item(item)
            except Invalid as problem:
                problem.path.append(str(index))
                raise
            if checked is not item:
                if result is value:
                    result = list(value)
                result[index] = checked
        return result

    return check_array


def _compile_object(definition: Mapping[str, Any], nsid: str, resolve: Resolver) -> Validator:
    properties: Mapping[str, Mapping[str, Any]] = definition.get("properties", {})
    nullable = frozenset(definition.get("nullable", ()))
    checks = {key: compile_field(prop, nsid, resolve) for key, prop in properties.items()}
    defaults = tuple(
        (key, prop["default"])
        for key, prop in properties.items()
        if prop["type"] in _SCALARS_WITH_DEFAULTS and "default" in prop
    )
    # Like the reference, a required property that has a default is satisfied by it.
    listed = frozenset(definition.get("required", ())) - {key for key, _ in defaults}
    required = tuple(key for key in properties if key in listed)
    required_set = frozenset(required)

    def check_object(value: Any) -> Any:
        if not isinstance(value, dict):
            raise Invalid("must be an object")
        if required_set and not value.keys() >= required_set:
            missing = next(key for key in required if key not in value)
            raise Invalid(f'must have the property "{missing}"')
        result = value
        for key, item in value.items():
            check = checks.get(key)
            if check is None or (item is None and key in nullable):
                continue
            try:
                checked = check(item)
            except Invalid as problem:
                problem.path.append(key)
                raise
            if checked is not item:
                if result is value:
                    result = dict(value)
                result[key] = checked
        for key, default in defaults:
            if key not in value:
                if result is value:
                    result = dict(value)
                result[key] = default
        return result

    return check_object


def _compile_ref(definition: Mapping[str, Any], nsid: str, resolve: Resolver) -> Validator:
    return resolve(absolute_ref(definition["ref"], nsid))


def _compile_union(definition: Mapping[str, Any], nsid: str, resolve: Resolver) -> Validator:
    refs = [absolute_ref(ref, nsid) for ref in definition["refs"]]
    closed = bool(definition.get("closed", False))
    members: dict[str, Validator] = {}
    for ref in refs:
        member = resolve(ref)
        members[ref] = member
        if ref.endswith("#main"):
            members[ref.removesuffix("#main")] = member
    listing = ", ".join(ref.removesuffix("#main") for ref in refs)

    def check_union(value: Any) -> Any:
        type_name = value.get("$type") if isinstance(value, dict) else None
        if type(type_name) is not str:
            raise Invalid('must be an object which includes the "$type" property')
        member = members.get(type_name)
        if member is None:
            if closed:
                raise Invalid(f"$type must be one of {listing}")
            return value
        return member(value)

    return check_union


_Builder = Callable[[Mapping[str, Any], str, Resolver], Validator]
_BUILDERS: dict[str, _Builder] = {
    "boolean": _compile_boolean,
    "integer": _compile_integer,
    "string": _compile_string,
    "bytes": _compile_bytes,
    "cid-link": _compile_cid_link,
    "blob": _compile_blob,
    "unknown": _compile_unknown,
    "array": _compile_array,
    "object": _compile_object,
    "ref": _compile_ref,
    "union": _compile_union,
}
