"""Turning record blocks into checked :class:`RecordWrite` values.

A record is indexed only if its block is a DAG-CBOR map that validates against its collection's
lexicon (https://atproto.com/specs/lexicon#record-validation); the AppView skips the others, as
the reference AppView does.
"""

from __future__ import annotations

from typing import Literal

from sonet.appview.ingest.errors import InvalidRecordError
from sonet.appview.ingest.events import INDEXED_COLLECTIONS, RecordWrite
from sonet.lexicons import (
    LexiconError,
    LexiconNotFoundError,
    Lexicons,
    LexiconValidationError,
    validate_record,
)
from sonet.repo import cbor
from sonet.syntax.recordkey import is_valid_record_key

__all__ = ["decode_record", "split_path"]


def split_path(path: str) -> tuple[str, str] | None:
    """``(collection, rkey)`` of a repo path if the collection is indexed, else None."""
    collection, sep, rkey = path.partition("/")
    if not sep or collection not in INDEXED_COLLECTIONS:
        return None
    return collection, rkey


def decode_record(
    lexicons: Lexicons,
    action: Literal["create", "update"],
    did: str,
    collection: str,
    rkey: str,
    cid: str,
    data: bytes,
) -> RecordWrite:
    """Decode and validate one record; :class:`InvalidRecordError` if it may not be indexed."""
    if not is_valid_record_key(rkey):
        raise InvalidRecordError(f"invalid record key {rkey!r}")
    try:
        value = cbor.decode(data)
    except cbor.CborDecodeError as exc:
        raise InvalidRecordError(f"record is not DAG-CBOR: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidRecordError("record is not a map")
    try:
        validate_record(lexicons, collection, value)
    except (LexiconValidationError, LexiconError, LexiconNotFoundError) as exc:
        raise InvalidRecordError(f"{collection} record is invalid: {exc}") from None
    return RecordWrite(action, did, collection, rkey, cid, data, value)
