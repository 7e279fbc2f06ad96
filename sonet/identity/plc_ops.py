"""``did:plc`` operations: their types, DAG-CBOR bytes, CIDs, the DID, and signing.

Pure functions, no I/O. https://web.plc.directory/spec/v0.1/did-plc#operation-serialization-signing-and-validation
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, TypedDict

from sonet.crypto import Keypair
from sonet.identity.plc_errors import InvalidSignatureError
from sonet.repo.cbor import encode
from sonet.repo.cid import cid_for_cbor

__all__ = [
    "ATPROTO_PDS_TYPE",
    "AnyOp",
    "DocumentData",
    "LegacyCreate",
    "Operation",
    "Service",
    "Tombstone",
    "UnsignedOperation",
    "atproto_operation",
    "create_atproto_op",
    "decode_sig",
    "did_for_genesis",
    "encode_sig",
    "ensure_atproto_prefix",
    "ensure_http_prefix",
    "normalize_op",
    "op_cbor",
    "op_cid",
    "op_to_data",
    "sign_legacy_create",
    "sign_operation",
    "sign_tombstone",
    "tombstone_op",
    "unsigned_cbor",
    "update_operation",
]

DID_PLC_PREFIX: Final = "did:plc:"
DID_PLC_ID_LENGTH: Final = 24
ATPROTO_PDS_TYPE: Final = "AtprotoPersonalDataServer"
SIGNATURE_TEXT_LENGTH: Final = 86
"""A 64-byte signature in unpadded base64url."""


class Service(TypedDict):
    """One entry of ``services``: a service type and its URL."""

    type: str
    endpoint: str


class UnsignedOperation(TypedDict):
    """A ``plc_operation`` before its signature is added."""

    type: Literal["plc_operation"]
    rotationKeys: list[str]
    verificationMethods: dict[str, str]
    alsoKnownAs: list[str]
    services: dict[str, Service]
    prev: str | None


class Operation(UnsignedOperation):
    """A signed ``plc_operation`` (genesis when ``prev`` is null, else an update)."""

    sig: str


class UnsignedTombstone(TypedDict):
    """A ``plc_tombstone`` before its signature is added."""

    type: Literal["plc_tombstone"]
    prev: str


class Tombstone(UnsignedTombstone):
    """A signed ``plc_tombstone``: deactivates the DID."""

    sig: str


class UnsignedLegacyCreate(TypedDict):
    """The deprecated ``create`` genesis format before its signature is added."""

    type: Literal["create"]
    signingKey: str
    recoveryKey: str
    handle: str
    service: str
    prev: None


class LegacyCreate(UnsignedLegacyCreate):
    """A signed deprecated ``create`` genesis operation."""

    sig: str


AnyOp = Operation | Tombstone | LegacyCreate


class DocumentData(TypedDict):
    """The PLC state of a DID (``GET /:did/data``)."""

    did: str
    verificationMethods: dict[str, str]
    rotationKeys: list[str]
    alsoKnownAs: list[str]
    services: dict[str, Service]


# Bytes, hashes and signatures
# ----------------------------


def op_cbor(op: Mapping[str, Any]) -> bytes:
    """The DAG-CBOR bytes of an operation, signed or not (``prev`` stays a string)."""
    return encode(dict(op))


def unsigned_cbor(op: Mapping[str, Any]) -> bytes:
    """The DAG-CBOR bytes that are signed: the operation without its ``sig`` key."""
    return encode({k: v for k, v in op.items() if k != "sig"})


def op_cid(op: Mapping[str, Any]) -> str:
    """The CID string (CIDv1, dag-cbor, sha-256, base32) of an operation, as used in ``prev``."""
    return str(cid_for_cbor(op_cbor(op)).encode())


def did_for_genesis(op: Mapping[str, Any]) -> str:
    """``did:plc:`` + the first 24 chars of base32(sha256(DAG-CBOR of the signed genesis op))."""
    digest = hashlib.sha256(op_cbor(op)).digest()
    return DID_PLC_PREFIX + base64.b32encode(digest).decode("ascii").lower()[:DID_PLC_ID_LENGTH]


def encode_sig(raw: bytes) -> str:
    """Unpadded base64url of a signature."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_sig(text: object) -> bytes:
    """Strictly decode a ``sig``: unpadded base64url with zero trailing bits, 64 bytes."""
    if not isinstance(text, str) or len(text) != SIGNATURE_TEXT_LENGTH:
        raise InvalidSignatureError("sig must be 86 characters of unpadded base64url")
    try:
        raw = base64.b64decode(text + "==", altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSignatureError("sig is not base64url") from None
    if encode_sig(raw) != text:
        raise InvalidSignatureError("sig is not canonical base64url (non-zero trailing bits)")
    return raw


def _signature(unsigned: Mapping[str, Any], signer: Keypair) -> str:
    return encode_sig(signer.sign(unsigned_cbor(unsigned)))


def sign_operation(unsigned: UnsignedOperation, signer: Keypair) -> Operation:
    """Sign a ``plc_operation`` with a rotation key (low-S, base64url)."""
    return Operation(**unsigned, sig=_signature(unsigned, signer))


def sign_tombstone(unsigned: UnsignedTombstone, signer: Keypair) -> Tombstone:
    """Sign a ``plc_tombstone`` with a rotation key."""
    return Tombstone(**unsigned, sig=_signature(unsigned, signer))


def sign_legacy_create(unsigned: UnsignedLegacyCreate, signer: Keypair) -> LegacyCreate:
    """Sign a deprecated ``create`` op (tests and log replay only: never create new ones)."""
    return LegacyCreate(**unsigned, sig=_signature(unsigned, signer))


# Building operations
# -------------------


def ensure_http_prefix(url: str) -> str:
    """A PDS endpoint with an ``http(s)://`` scheme (``https://`` added when missing)."""
    return url if url.startswith(("http://", "https://")) else "https://" + url


def ensure_atproto_prefix(handle: str) -> str:
    """A handle as an ``at://`` URI, dropping a stray ``http(s)://`` as the reference does."""
    if handle.startswith("at://"):
        return handle
    return "at://" + handle.replace("http://", "", 1).replace("https://", "", 1)


def atproto_operation(
    *,
    signing_key: str,
    handle: str,
    pds_endpoint: str,
    rotation_keys: Sequence[str],
    prev: str | None,
) -> UnsignedOperation:
    """An unsigned op with the atproto fields: ``#atproto`` key, handle, ``#atproto_pds``.

    https://web.plc.directory/spec/v0.1/did-plc#use-with-at-protocol
    """
    return UnsignedOperation(
        type="plc_operation",
        rotationKeys=list(rotation_keys),
        verificationMethods={"atproto": signing_key},
        alsoKnownAs=[ensure_atproto_prefix(handle)],
        services={
            "atproto_pds": Service(type=ATPROTO_PDS_TYPE, endpoint=ensure_http_prefix(pds_endpoint))
        },
        prev=prev,
    )


def create_atproto_op(
    *,
    signing_key: str,
    handle: str,
    pds_endpoint: str,
    rotation_keys: Sequence[str],
    signer: Keypair,
) -> tuple[str, Operation]:
    """A signed genesis op and the DID it defines.

    https://web.plc.directory/spec/v0.1/did-plc#did-creation
    """
    unsigned = atproto_operation(
        signing_key=signing_key,
        handle=handle,
        pds_endpoint=pds_endpoint,
        rotation_keys=rotation_keys,
        prev=None,
    )
    op = sign_operation(unsigned, signer)
    return did_for_genesis(op), op


def normalize_op(op: Operation | LegacyCreate) -> Operation:
    """A legacy ``create`` op in the regular form (rotation keys: recovery, then signing)."""
    if op["type"] == "plc_operation":
        return op
    return Operation(
        type="plc_operation",
        rotationKeys=[op["recoveryKey"], op["signingKey"]],
        verificationMethods={"atproto": op["signingKey"]},
        alsoKnownAs=[ensure_atproto_prefix(op["handle"])],
        services={
            "atproto_pds": Service(
                type=ATPROTO_PDS_TYPE, endpoint=ensure_http_prefix(op["service"])
            )
        },
        prev=None,
        sig=op["sig"],
    )


def _replace_handle(also_known_as: list[str], handle: str) -> list[str]:
    uri = ensure_atproto_prefix(handle)
    for i, entry in enumerate(also_known_as):
        if entry.startswith("at://"):
            return [*also_known_as[:i], uri, *also_known_as[i + 1 :]]
    return [uri, *also_known_as]


def update_operation(
    last_op: Operation | LegacyCreate,
    signer: Keypair,
    *,
    signing_key: str | None = None,
    handle: str | None = None,
    pds_endpoint: str | None = None,
    rotation_keys: Sequence[str] | None = None,
    prev: str | None = None,
) -> Operation:
    """A signed update of ``last_op`` changing only the given atproto fields.

    ``prev`` defaults to the CID of ``last_op``; pass an older CID to fork (recovery).
    https://web.plc.directory/spec/v0.1/did-plc#did-update
    """
    base = normalize_op(last_op)
    services = dict(base["services"])
    if pds_endpoint is not None:
        services["atproto_pds"] = Service(
            type=ATPROTO_PDS_TYPE, endpoint=ensure_http_prefix(pds_endpoint)
        )
    methods = dict(base["verificationMethods"])
    if signing_key is not None:
        methods["atproto"] = signing_key
    unsigned = UnsignedOperation(
        type="plc_operation",
        rotationKeys=list(base["rotationKeys"] if rotation_keys is None else rotation_keys),
        verificationMethods=methods,
        alsoKnownAs=(
            list(base["alsoKnownAs"])
            if handle is None
            else _replace_handle(base["alsoKnownAs"], handle)
        ),
        services=services,
        prev=op_cid(last_op) if prev is None else prev,
    )
    return sign_operation(unsigned, signer)


def tombstone_op(prev: str, signer: Keypair) -> Tombstone:
    """A signed tombstone ending the DID whose latest valid op has CID ``prev``.

    https://web.plc.directory/spec/v0.1/did-plc#did-deactivation
    """
    return sign_tombstone(UnsignedTombstone(type="plc_tombstone", prev=prev), signer)


def op_to_data(did: str, op: AnyOp) -> DocumentData | None:
    """The DID's PLC state after ``op``; None after a tombstone."""
    if op["type"] == "plc_tombstone":
        return None
    regular = normalize_op(op)
    return DocumentData(
        did=did,
        verificationMethods=regular["verificationMethods"],
        rotationKeys=regular["rotationKeys"],
        alsoKnownAs=regular["alsoKnownAs"],
        services=regular["services"],
    )
