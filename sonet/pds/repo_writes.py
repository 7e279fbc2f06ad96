"""Preparing record writes: ``$type``, record keys, lexicon validation and blob references.

Behaves as the reference PDS does (https://atproto.com/specs/repository#repo-data-structure,
https://atproto.com/specs/record-key): a missing ``$type`` is filled from the collection; the
``validate`` flag validates known lexicons (True: unknown ones are an error, None: unknown ones are
accepted as ``unknown``, False: nothing is checked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sonet.lexicons import LexiconNotFoundError, Lexicons, LexiconValidationError, validate_record
from sonet.pds.errors import InvalidRecordError
from sonet.repo import cbor
from sonet.repo.cid import CID
from sonet.syntax.nsid import is_valid_nsid
from sonet.syntax.recordkey import is_valid_record_key
from sonet.syntax.tid import is_valid_tid, next_tid

__all__ = [
    "MAX_RECORD_BYTES",
    "NO_SWAP",
    "PreparedWrite",
    "WriteRequest",
    "find_blob_refs",
    "prepare_write",
]

Action = Literal["create", "update", "delete"]
MAX_RECORD_BYTES = 1024 * 1024


class _NoSwap:
    def __repr__(self) -> str:
        return "NO_SWAP"


NO_SWAP: Any = _NoSwap()
"""``swap_record`` default: no compare-and-swap (None means "must not exist")."""


@dataclass(frozen=True)
class WriteRequest:
    """One requested write of applyWrites/createRecord/putRecord/deleteRecord."""

    action: Action
    collection: str
    rkey: str | None = None
    record: dict[str, Any] | None = None
    swap_record: Any = NO_SWAP


@dataclass(frozen=True)
class PreparedWrite:
    """A validated write ready to apply to the MST."""

    action: Action
    collection: str
    rkey: str
    swap_record: Any
    record: dict[str, Any] | None = None
    cid: CID | None = None
    block: bytes | None = None
    validation_status: str | None = None
    blobs: list[CID] = field(default_factory=list)

    @property
    def path(self) -> str:
        """The MST key ``collection/rkey``."""
        return f"{self.collection}/{self.rkey}"


def prepare_write(lex: Lexicons, req: WriteRequest, validate: bool | None) -> PreparedWrite:
    """Check and encode one write; raises :class:`InvalidRecordError` as the reference does."""
    if not is_valid_nsid(req.collection):
        raise InvalidRecordError(f"Invalid collection: {req.collection}")
    if req.rkey is not None and not is_valid_record_key(req.rkey):
        raise InvalidRecordError(f"Invalid record key: {req.rkey}")
    if req.action == "delete":
        if req.rkey is None:
            raise InvalidRecordError("a delete needs a record key")
        return PreparedWrite("delete", req.collection, req.rkey, req.swap_record)
    if req.action == "update" and req.rkey is None:
        raise InvalidRecordError("an update needs a record key")
    record = req.record
    if not isinstance(record, dict):
        raise InvalidRecordError("record must be an object")
    type_name = record.get("$type")
    if type_name is None:
        record = {**record, "$type": req.collection}
    elif type_name != req.collection:
        raise InvalidRecordError(f"Invalid $type: expected {req.collection}, got {type_name}")
    rkey = req.rkey or next_tid()
    status = _validate(lex, req.collection, rkey, record, validate)
    try:
        cid, block = cbor.encode_with_cid(record)
    except cbor.CborEncodeError as exc:
        raise InvalidRecordError(f"record is not valid data: {exc}") from None
    if len(block) > MAX_RECORD_BYTES:
        raise InvalidRecordError(f"record is larger than {MAX_RECORD_BYTES} bytes")
    blobs = find_blob_refs(record)
    return PreparedWrite(
        req.action, req.collection, rkey, req.swap_record, record, cid, block, status, blobs
    )


def _validate(
    lex: Lexicons, collection: str, rkey: str, record: dict[str, Any], validate: bool | None
) -> str | None:
    if validate is False:
        return None
    try:
        definition = lex.get_def(collection, kinds=("record",))
    except (LexiconNotFoundError, KeyError):
        if validate is True:
            raise InvalidRecordError(f"Unknown lexicon type: {collection}") from None
        return "unknown"
    _check_key_type(collection, rkey, str(definition.get("key", "any")))
    try:
        validate_record(lex, collection, record)
    except LexiconValidationError as exc:
        raise InvalidRecordError(f"Invalid {collection} record: {exc}") from None
    return "valid"


def _check_key_type(collection: str, rkey: str, key_type: str) -> None:
    if key_type == "tid" and not is_valid_tid(rkey):
        raise InvalidRecordError(f"Invalid record key for {collection}: must be a TID")
    if key_type == "nsid" and not is_valid_nsid(rkey):
        raise InvalidRecordError(f"Invalid record key for {collection}: must be an NSID")
    if key_type.startswith("literal:") and rkey != key_type[len("literal:") :]:
        raise InvalidRecordError(
            f"Invalid record key for {collection}: must be {key_type[len('literal:') :]}"
        )


def find_blob_refs(value: Any) -> list[CID]:
    """CIDs of every blob referenced anywhere in a record (``$type: blob``)."""
    found: list[CID] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("$type") == "blob" and isinstance(item.get("ref"), CID):
                found.append(item["ref"])
            else:
                stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
