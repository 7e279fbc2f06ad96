"""Checks of a single ``did:plc`` operation: shape, directory limits and signature.

https://web.plc.directory/spec/v0.1/did-plc#operation-serialization-signing-and-validation
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from sonet.crypto import CryptoError, multibase_decode, parse_did_key
from sonet.identity.plc_errors import (
    GenesisHashError,
    ImproperOperationError,
    InvalidSignatureError,
    MisorderedOperationError,
    OperationLimitError,
)
from sonet.identity.plc_ops import (
    AnyOp,
    DocumentData,
    Operation,
    Tombstone,
    decode_sig,
    did_for_genesis,
    normalize_op,
    op_cbor,
    op_to_data,
    unsigned_cbor,
)
from sonet.repo.cbor import CborEncodeError

__all__ = [
    "PlcLimits",
    "assert_valid_incoming_op",
    "assure_valid_creation_op",
    "check_limits",
    "parse_operation",
    "verify_op_signature",
]

OPERATION_FIELDS: Final = frozenset(
    ("type", "rotationKeys", "verificationMethods", "alsoKnownAs", "services", "prev", "sig")
)
TOMBSTONE_FIELDS: Final = frozenset(("type", "prev", "sig"))
LEGACY_CREATE_FIELDS: Final = frozenset(
    ("type", "signingKey", "recoveryKey", "handle", "service", "prev", "sig")
)
SERVICE_FIELDS: Final = frozenset(("type", "endpoint"))
DID_KEY_PREFIX: Final = "did:key:"


@dataclass(frozen=True)
class PlcLimits:
    """Limits a directory enforces on incoming operations and on their rate.

    Each is the stricter of the spec and the reference directory: 4000 CBOR bytes (the spec
    allows 7500), 1 to 5 distinct rotation keys (the reference allows 10), and the reference's
    sizes for the other fields. Rates are per DID, over non-nullified operations.
    """

    max_op_bytes: int = 4000
    max_rotation_keys: int = 5
    max_also_known_as: int = 10
    max_also_known_as_length: int = 258
    max_services: int = 10
    max_service_type_length: int = 256
    max_service_endpoint_length: int = 512
    max_verification_methods: int = 10
    max_id_length: int = 32
    max_did_key_length: int = 256
    ops_per_hour: int = 10
    ops_per_day: int = 30
    ops_per_week: int = 100


def _improper(reason: str) -> ImproperOperationError:
    return ImproperOperationError(f"Improperly formatted operation: {reason}")


def _check_fields(op: Mapping[str, Any], expected: frozenset[str], kind: str) -> None:
    keys = set(op)
    if keys != expected:
        missing = sorted(expected - keys)
        extra = sorted(keys - expected)
        parts = ([f"missing {missing}"] if missing else []) + (
            [f"unexpected {extra}"] if extra else []
        )
        raise _improper(f"{kind} fields: {', '.join(parts)}")


def _check_str(value: object, name: str) -> None:
    if not isinstance(value, str):
        raise _improper(f"{name} must be a string")


def _check_str_list(value: object, name: str) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _improper(f"{name} must be a list of strings")


def _check_str_map(value: object, name: str) -> None:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _improper(f"{name} must be a map of strings")


def _check_services(value: object) -> None:
    if not isinstance(value, dict):
        raise _improper("services must be a map")
    for name, service in value.items():
        if not isinstance(service, dict) or set(service) != SERVICE_FIELDS:
            raise _improper(f"service {name!r} must have exactly 'type' and 'endpoint'")
        _check_str(service["type"], f"services.{name}.type")
        _check_str(service["endpoint"], f"services.{name}.endpoint")


def parse_operation(value: object, *, allow_legacy: bool = True) -> AnyOp:
    """``value`` as a typed operation if its shape is exactly one of the three op types.

    Legacy ``create`` ops are valid only as a genesis op already in a log: a directory
    refuses new ones (``allow_legacy=False``).
    """
    if not isinstance(value, dict):
        raise _improper("an operation must be a JSON object")
    kind = value.get("type")
    if kind == "plc_operation":
        _check_fields(value, OPERATION_FIELDS, "plc_operation")
        _check_str_list(value["rotationKeys"], "rotationKeys")
        _check_str_map(value["verificationMethods"], "verificationMethods")
        _check_str_list(value["alsoKnownAs"], "alsoKnownAs")
        _check_services(value["services"])
        if value["prev"] is not None:
            _check_str(value["prev"], "prev")
    elif kind == "plc_tombstone":
        _check_fields(value, TOMBSTONE_FIELDS, "plc_tombstone")
        _check_str(value["prev"], "prev")
    elif kind == "create" and allow_legacy:
        _check_fields(value, LEGACY_CREATE_FIELDS, "create")
        for name in ("signingKey", "recoveryKey", "handle", "service"):
            _check_str(value[name], name)
        if value["prev"] is not None:
            raise _improper("a legacy create operation must have a null prev")
    else:
        allowed = "plc_operation, plc_tombstone" + (" or create" if allow_legacy else "")
        raise _improper(f"type must be {allowed}, got {kind!r}")
    _check_str(value["sig"], "sig")
    return cast(AnyOp, value)


def _check_did_key_syntax(key: str, name: str, limits: PlcLimits) -> None:
    if len(key) > limits.max_did_key_length:
        raise OperationLimitError(f"{name} too long (max {limits.max_did_key_length}): {key!r}")
    if not key.startswith(DID_KEY_PREFIX):
        raise ImproperOperationError(f"{name} is not a did:key: {key!r}")
    try:
        if not multibase_decode(key[len(DID_KEY_PREFIX) :]):
            raise ImproperOperationError(f"{name} has an empty key: {key!r}")
    except CryptoError:
        raise ImproperOperationError(f"{name} is not base58btc multibase: {key!r}") from None


def _check_rotation_keys(keys: list[str], limits: PlcLimits) -> None:
    if not 1 <= len(keys) <= limits.max_rotation_keys:
        raise OperationLimitError(f"rotationKeys must hold 1 to {limits.max_rotation_keys} keys")
    if len(set(keys)) != len(keys):
        raise ImproperOperationError("rotationKeys must not repeat a key")
    for key in keys:
        try:
            parse_did_key(key)
        except CryptoError:
            raise ImproperOperationError(
                f"Invalid rotationKey (must be a K-256 or P-256 did:key): {key!r}"
            ) from None


def _check_also_known_as(aliases: list[str], limits: PlcLimits) -> None:
    if len(aliases) > limits.max_also_known_as:
        raise OperationLimitError(f"Too many alsoKnownAs entries (max {limits.max_also_known_as})")
    for alias in aliases:
        if len(alias) > limits.max_also_known_as_length:
            raise OperationLimitError(
                f"alsoKnownAs entry too long (max {limits.max_also_known_as_length}): {alias!r}"
            )
    if len(set(aliases)) != len(aliases):
        raise ImproperOperationError("alsoKnownAs must not repeat an entry")


def _check_services_limits(op: Operation, limits: PlcLimits) -> None:
    if len(op["services"]) > limits.max_services:
        raise OperationLimitError(f"Too many service entries (max {limits.max_services})")
    for name, service in op["services"].items():
        if len(name) > limits.max_id_length:
            raise OperationLimitError(f"Service id too long (max {limits.max_id_length}): {name!r}")
        if len(service["type"]) > limits.max_service_type_length:
            raise OperationLimitError(
                f"Service type too long (max {limits.max_service_type_length})"
            )
        if len(service["endpoint"]) > limits.max_service_endpoint_length:
            raise OperationLimitError(
                f"Service endpoint too long (max {limits.max_service_endpoint_length})"
            )


def _check_verification_methods(op: Operation, limits: PlcLimits) -> None:
    methods = op["verificationMethods"]
    if len(methods) > limits.max_verification_methods:
        raise OperationLimitError(
            f"Too many verificationMethods entries (max {limits.max_verification_methods})"
        )
    for name, key in methods.items():
        if len(name) > limits.max_id_length:
            raise OperationLimitError(
                f"Verification method id too long (max {limits.max_id_length}): {name!r}"
            )
        _check_did_key_syntax(key, f"verificationMethods.{name}", limits)


def check_limits(op: Operation | Tombstone, limits: PlcLimits) -> None:
    """The directory's size, count and key-syntax rules for a new operation."""
    try:
        size = len(op_cbor(op))
    except CborEncodeError as exc:
        raise _improper(f"not encodable as DAG-CBOR: {exc}") from None
    if size > limits.max_op_bytes:
        raise OperationLimitError(
            f"Operation too large ({size} bytes; {limits.max_op_bytes} maximum in DAG-CBOR)"
        )
    if op["type"] == "plc_tombstone":
        return
    _check_rotation_keys(op["rotationKeys"], limits)
    _check_also_known_as(op["alsoKnownAs"], limits)
    _check_services_limits(op, limits)
    _check_verification_methods(op, limits)


def assert_valid_incoming_op(value: object, limits: PlcLimits) -> Operation | Tombstone:
    """A POSTed operation, checked for shape and limits (not yet against the DID's log)."""
    op = parse_operation(value, allow_legacy=False)
    assert op["type"] != "create"
    check_limits(op, limits)
    return op


def verify_op_signature(allowed_keys: Sequence[str], op: AnyOp) -> str:
    """The first of ``allowed_keys`` (in priority order) whose signature ``op`` carries.

    The signature must be 64 bytes of ``r || s`` with low S, in canonical base64url.
    """
    sig = decode_sig(op["sig"])
    data = unsigned_cbor(op)
    for key in allowed_keys:
        try:
            public = parse_did_key(key)
        except CryptoError:
            continue  # an unusable key in an old op can never have signed anything
        if public.verify(data, sig):
            return key
    raise InvalidSignatureError(
        f"Invalid signature on {op['type']} operation: none of {len(allowed_keys)} allowed "
        "rotation key(s) verifies it"
    )


def assure_valid_creation_op(did: str, op: AnyOp) -> DocumentData:
    """The state a genesis op creates, after checking its signature, null prev and DID hash.

    https://web.plc.directory/spec/v0.1/did-plc#did-creation
    """
    if op["type"] == "plc_tombstone":
        raise MisorderedOperationError("a tombstone cannot be the first operation of a DID")
    regular = normalize_op(op)
    verify_op_signature(regular["rotationKeys"], op)
    expected = did_for_genesis(op)
    if expected != did:
        raise GenesisHashError(
            f"Hash of genesis operation gives {expected}, not the DID identifier {did}"
        )
    if op["prev"] is not None:
        raise ImproperOperationError("a genesis operation must have a null prev")
    data = op_to_data(did, op)
    assert data is not None
    return data
