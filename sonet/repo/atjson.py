"""Conversion between the JSON representation and the atproto data model.

https://atproto.com/specs/data-model#json-representation: links are ``{"$link": "<cid>"}``,
bytes are ``{"$bytes": "<base64, no padding>"}``, blobs are
``{"$type": "blob", "ref": {"$link": ...}, "mimeType": ..., "size": ...}``. Integer-valued JSON
numbers are integers; other floats are rejected.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sonet.repo import cbor
from sonet.repo.cid import CID, InvalidCidError, parse_cid

__all__ = ["MAX_DEPTH", "DataModelError", "data_to_json", "json_to_data", "json_to_record"]

MAX_DEPTH = 128
"""Deepest nesting accepted from JSON input."""


class DataModelError(ValueError):
    """A JSON value does not map onto the atproto data model."""


def json_to_record(value: Any) -> dict[str, Any]:
    """Convert a JSON record (which must be an object) to its data-model form."""
    if not isinstance(value, dict):
        raise DataModelError("a record must be a JSON object")
    result: dict[str, Any] = json_to_data(value)
    return result


def json_to_data(value: Any, _depth: int = 0) -> Any:
    """Convert any JSON value to its data-model form, validating the special objects."""
    if isinstance(value, str | bool | int) or value is None:
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise DataModelError("floats are not allowed in the atproto data model")
    if _depth >= MAX_DEPTH:
        raise DataModelError(f"value nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        return [json_to_data(item, _depth + 1) for item in value]
    if isinstance(value, dict):
        return _object_to_data(value, _depth)
    raise DataModelError(f"unsupported JSON type {type(value).__name__}")


def _object_to_data(obj: dict[str, Any], depth: int) -> Any:
    if "$link" in obj:
        return _link(obj)
    if "$bytes" in obj:
        return _bytes(obj)
    out = {}
    for key, item in obj.items():
        if not isinstance(key, str):
            raise DataModelError("object keys must be strings")
        out[key] = json_to_data(item, depth + 1)
    if "$type" in out:
        type_name = out["$type"]
        if not isinstance(type_name, str) or not type_name:
            raise DataModelError("$type must be a non-empty string")
        if type_name == "blob":
            _check_blob(out)
    return out


def _link(obj: dict[str, Any]) -> CID:
    link = obj["$link"]
    if len(obj) != 1:
        raise DataModelError("a $link object must have no other fields")
    if not isinstance(link, str):
        raise DataModelError("$link must be a CID string")
    try:
        return parse_cid(link)
    except InvalidCidError as exc:
        raise DataModelError(str(exc)) from exc


def _bytes(obj: dict[str, Any]) -> bytes:
    encoded = obj["$bytes"]
    if len(obj) != 1:
        raise DataModelError("a $bytes object must have no other fields")
    if not isinstance(encoded, str):
        raise DataModelError("$bytes must be a base64 string")
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DataModelError("$bytes is not valid base64") from exc


def _check_blob(blob: dict[str, Any]) -> None:
    if not isinstance(blob.get("ref"), CID):
        raise DataModelError("blob ref must be a $link")
    if not isinstance(blob.get("mimeType"), str):
        raise DataModelError("blob mimeType must be a string")
    size = blob.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise DataModelError("blob size must be a non-negative integer")


def data_to_json(value: Any) -> Any:
    """Convert a data-model value (with :class:`CID` and ``bytes``) to its JSON form."""
    return cbor.decode_json(cbor.encode(value), max_size=1 << 62)
