"""Validating records, XRPC bodies, subscription messages and query parameters.

https://atproto.com/specs/lexicon: values are in their data-model form (``bytes``, CIDs, blob
dicts; see :mod:`sonet.repo.atjson`). Records and objects are validated as they are; bodies,
messages and parameters are returned with schema defaults filled in, like the reference
implementation does. Failures raise :class:`LexiconValidationError`; an unknown NSID raises
:class:`LexiconNotFoundError`, a definition of the wrong kind :class:`LexiconError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sonet.lexicons.compiler import Invalid, Validator, compile_field
from sonet.lexicons.errors import LexiconValidationError
from sonet.lexicons.params import RawParams, compile_params
from sonet.lexicons.refs import absolute_ref
from sonet.lexicons.registry import Lexicons

__all__ = [
    "parse_params",
    "validate_input",
    "validate_message",
    "validate_object",
    "validate_output",
    "validate_record",
]

_XRPC_KINDS = ("query", "procedure", "subscription")


def _run(check: Validator, root: str, value: Any) -> Any:
    try:
        return check(value)
    except Invalid as problem:
        raise LexiconValidationError(
            "/".join([root, *reversed(problem.path)]), problem.reason
        ) from None
    except RecursionError:
        raise LexiconValidationError(root, "is nested too deeply") from None


def validate_record(lex: Lexicons, collection: str, value: Any) -> None:
    """Validate a repository record of type ``collection``, including its ``$type``.

    https://atproto.com/specs/lexicon#when-to-use-type: a record names its collection NSID
    (never ``nsid#main``) in ``$type``.
    """
    check = lex.cached(("record", collection), lambda: _named(lex, collection, ("record",)))
    if not isinstance(value, dict):
        raise LexiconValidationError("Record", "must be an object")
    type_name = value.get("$type")
    if not isinstance(type_name, str):
        raise LexiconValidationError("Record/$type", "must be a string")
    if type_name != collection:
        raise LexiconValidationError("Record/$type", f"must be {collection}, got {type_name}")
    _run(check, "Record", value)


def validate_object(lex: Lexicons, ref: str, value: Any) -> None:
    """Validate ``value`` against the ``object`` (or ``record``) definition ``nsid#name``."""
    check = lex.cached(("object", ref), lambda: _named(lex, ref, ("object", "record")))
    if not isinstance(value, dict):
        raise LexiconValidationError("Object", "must be an object")
    _run(check, "Object", value)


def _named(lex: Lexicons, ref: str, kinds: tuple[str, ...]) -> Validator:
    lex.get_def(ref, kinds)
    return lex.validator(ref)


def _body_validator(
    lex: Lexicons, nsid: str, body: str, kinds: tuple[str, ...]
) -> Validator | None:
    """Compiled schema of the ``input``/``output`` body of ``nsid`` (``None``: no schema)."""

    def build() -> Validator | None:
        definition = lex.get_def(nsid, kinds)
        schema = definition.get(body, {}).get("schema")
        return None if schema is None else compile_field(schema, nsid, lex.link)

    return lex.cached((body, nsid), build)


def _validate_body(check: Validator | None, root: str, value: Any) -> Any:
    if check is None:
        return value
    if not isinstance(value, dict):
        raise LexiconValidationError(root, "must be an object")
    return _run(check, root, value)


def validate_input(lex: Lexicons, nsid: str, value: Any) -> Any:
    """Validate the JSON input body of procedure ``nsid``; returns it with defaults applied.

    https://atproto.com/specs/lexicon#query-and-procedure-http-api
    """
    check = _body_validator(lex, nsid, "input", ("procedure",))
    return _validate_body(check, "Input", value)


def validate_output(lex: Lexicons, nsid: str, value: Any) -> Any:
    """Validate the JSON output body of query or procedure ``nsid``; returns it with defaults
    applied."""
    check = _body_validator(lex, nsid, "output", ("query", "procedure"))
    return _validate_body(check, "Output", value)


def validate_message(lex: Lexicons, nsid: str, value: Any, message_type: str | None = None) -> Any:
    """Validate a message of subscription ``nsid``; returns it with defaults applied.

    https://atproto.com/specs/lexicon#subscription-event-stream: the message schema is a union.
    Event-stream bodies carry no ``$type``: pass the frame header's ``t`` (such as ``#commit``)
    as ``message_type``; without it the value's own ``$type`` selects the union member.
    """
    if message_type is None:
        check = _body_validator(lex, nsid, "message", ("subscription",))
        return _validate_body(check, "Message", value)
    members, closed = lex.cached(("message members", nsid), lambda: _members(lex, nsid))
    member = members.get(message_type)
    if member is None:
        if closed:
            raise LexiconValidationError("Message", f"type {message_type} is not allowed")
        return value
    return _validate_body(member, "Message", value)


def _members(lex: Lexicons, nsid: str) -> tuple[dict[str, Validator], bool]:
    """Validators of a subscription's message union members, by every name a frame header can
    give them (``#name``, ``nsid#name``, and ``nsid`` for a ``main``), and whether the union is
    closed."""
    schema = lex.get_def(nsid, ("subscription",))["message"]["schema"]
    members: dict[str, Validator] = {}
    for item in schema["refs"]:
        ref = absolute_ref(item, nsid)
        member_nsid, _, name = ref.partition("#")
        names = [ref, f"#{name}"] if member_nsid == nsid else [ref]
        if name == "main":
            names.append(member_nsid)
        for alias in names:
            members.setdefault(alias, lex.link(ref))
    return members, bool(schema.get("closed", False))


def parse_params(lex: Lexicons, nsid: str, params: RawParams) -> dict[str, Any]:
    """Convert XRPC query-string parameters of ``nsid`` to typed values and validate them.

    Integers and booleans are parsed, repeated names make arrays, defaults are filled in and
    parameters the schema does not define are dropped.
    """

    def build() -> Callable[[RawParams], dict[str, Any]] | None:
        definition = lex.get_def(nsid, _XRPC_KINDS)
        schema = definition.get("parameters")
        return None if schema is None else compile_params(schema, nsid, lex.link)

    parser = lex.cached(("params", nsid), build)
    return {} if parser is None else parser(params)
