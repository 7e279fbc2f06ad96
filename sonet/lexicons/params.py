"""XRPC query parameters: from query-string text to typed, validated values.

https://atproto.com/specs/lexicon#params: parameters are booleans, integers, strings or arrays
of them; https://atproto.com/specs/xrpc#lexicon-http-endpoints: booleans are written ``true`` /
``false`` and arrays repeat the parameter name. As in the reference server, empty values count
as absent, parameters the schema does not define are dropped, and defaults are filled in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sonet.lexicons.compiler import MISSING, Invalid, Resolver, compile_field
from sonet.lexicons.errors import LexiconValidationError

__all__ = ["ParamsParser", "RawParams", "compile_params"]

RawParams = Mapping[str, str | Sequence[str]]
"""Query-string values by name: one string, or a list for a repeated name."""

ParamsParser = Callable[[RawParams], dict[str, Any]]

_INTEGER = re.compile(r"-?[0-9]{1,19}")


def _coerce(kind: str, text: str) -> Any:
    if kind == "integer":
        if _INTEGER.fullmatch(text) is None:
            raise Invalid("must be an integer")
        return int(text)
    if kind == "boolean":
        if text == "true":
            return True
        if text == "false":
            return False
        raise Invalid("must be a boolean")
    return text


def _raw_values(params: RawParams, name: str) -> list[str]:
    getall = getattr(params, "getall", None)  # multidicts (aiohttp's request.query)
    raw: Any = getall(name, []) if getall is not None else params.get(name)
    if raw is None:
        return []
    values = [raw] if isinstance(raw, str) else list(raw)
    return [value for value in values if value != ""]


def compile_params(definition: Mapping[str, Any], nsid: str, resolve: Resolver) -> ParamsParser:
    """Compile a ``params`` schema into a parser of raw query-string values.

    The parser raises :class:`LexiconValidationError`: ``Params must have the property "x"``
    for a missing required parameter, ``<name> <reason>`` for a bad value.
    """
    required = frozenset(definition.get("required", ()))
    fields = []
    for name, prop in definition.get("properties", {}).items():
        is_array = prop["type"] == "array"
        kind = prop["items"]["type"] if is_array else prop["type"]
        default = MISSING if is_array else prop.get("default", MISSING)
        fields.append((name, kind, is_array, compile_field(prop, nsid, resolve), default))

    def parse_params(params: RawParams) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, kind, is_array, check, default in fields:
            values = _raw_values(params, name)
            if not values:
                if default is not MISSING:
                    result[name] = default
                elif name in required:
                    raise LexiconValidationError("Params", f'must have the property "{name}"')
                continue
            try:
                if is_array:
                    typed: Any = [_coerce(kind, value) for value in values]
                elif len(values) > 1:
                    raise Invalid("must be given only once")
                else:
                    typed = _coerce(kind, values[0])
                result[name] = check(typed)
            except Invalid as problem:
                path = "/".join([name, *reversed(problem.path)])
                raise LexiconValidationError(path, problem.reason) from None
        return result

    return parse_params
