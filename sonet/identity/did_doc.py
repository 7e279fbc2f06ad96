"""DID documents: structural validation and the atproto view of one.

https://atproto.com/specs/did#did-documents: the handle is the first valid
``at://`` URI of ``alsoKnownAs``; the signing key is the verification method
with id ``#atproto`` (controller: the DID itself); the PDS is the service with
id ``#atproto_pds`` and type ``AtprotoPersonalDataServer``, an http(s) URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from yarl import URL

from sonet.crypto import InvalidKeyError, PublicKey, parse_did_doc_key, parse_did_key
from sonet.identity.errors import DidDocumentError
from sonet.syntax.did import is_valid_did
from sonet.syntax.handle import is_valid_handle

ATPROTO_KEY_ID: Final = "#atproto"
ATPROTO_PDS_ID: Final = "#atproto_pds"
ATPROTO_PDS_TYPE: Final = "AtprotoPersonalDataServer"
MULTIKEY_TYPE: Final = "Multikey"
HANDLE_PREFIX: Final = "at://"
_URL_SCHEMES: Final = frozenset({"http", "https"})

DidDocument = dict[str, Any]


def _fail(did: object, reason: str) -> DidDocumentError:
    return DidDocumentError(f"bad DID document for {str(did)[:100]}: {reason}")


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _check_entries(doc: Mapping[str, Any], did: str, name: str, required: tuple[str, ...]) -> None:
    entries = doc.get(name)
    if entries is None:
        return
    if not isinstance(entries, list):
        raise _fail(did, f"{name} must be a list")
    for entry in entries:
        if not isinstance(entry, dict):
            raise _fail(did, f"{name} entries must be objects")
        for key in required:
            if not isinstance(entry.get(key), str):
                raise _fail(did, f"{name} entry lacks a string {key!r}")


def validate_did_doc(doc: object, did: str | None = None) -> DidDocument:
    """Check the shape of a DID document and, if given, that its ``id`` is ``did``.

    Returns the document; raises :class:`DidDocumentError` otherwise.
    """
    if not isinstance(doc, dict):
        raise _fail(did, f"expected a JSON object, got {type(doc).__name__}")
    doc_id = doc.get("id")
    if not isinstance(doc_id, str) or not is_valid_did(doc_id):
        raise _fail(did, "id is missing or not a DID")
    if did is not None and doc_id != did:
        raise _fail(did, f"id {doc_id[:100]!r} is not the requested DID")
    context = doc.get("@context")
    if context is not None and not (isinstance(context, str) or _is_str_list(context)):
        raise _fail(doc_id, "@context must be a string or a list of strings")
    aka = doc.get("alsoKnownAs")
    if aka is not None and not _is_str_list(aka):
        raise _fail(doc_id, "alsoKnownAs must be a list of strings")
    _check_entries(doc, doc_id, "verificationMethod", ("id", "type"))
    _check_entries(doc, doc_id, "service", ("id", "type"))
    return doc


def _matches(item_id: str, did: str, fragment: str) -> bool:
    """``#frag`` or ``<did>#frag``, the two forms an entry id takes."""
    if item_id == fragment:
        return True
    return (
        len(item_id) == len(did) + len(fragment)
        and item_id.startswith(did)
        and item_id.endswith(fragment)
    )


def _entries(doc: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    entries = doc.get(name)
    return entries if isinstance(entries, list) else []


def handle_from_doc(doc: Mapping[str, Any]) -> str | None:
    """The first valid handle among the ``at://`` aliases, lowercased, else None."""
    for alias in doc.get("alsoKnownAs") or ():
        if isinstance(alias, str) and alias.startswith(HANDLE_PREFIX):
            handle = alias[len(HANDLE_PREFIX) :]
            if is_valid_handle(handle):
                return handle.lower()
    return None


def verification_key(doc: Mapping[str, Any], fragment: str = ATPROTO_KEY_ID) -> PublicKey | None:
    """The key of the first verification method ``fragment`` controlled by the DID itself.

    ``Multikey`` and the legacy ``EcdsaSecp256{k,r}1VerificationKey2019`` types are read;
    a matching method with a missing or unusable key raises :class:`DidDocumentError`.
    """
    did = doc["id"]
    for method in _entries(doc, "verificationMethod"):
        if not _matches(method["id"], did, fragment):
            continue
        controller = method.get("controller", did)
        if controller != did:
            continue
        multibase = method.get("publicKeyMultibase")
        if not isinstance(multibase, str):
            raise _fail(did, f"verification method {fragment} has no publicKeyMultibase")
        try:
            if method["type"] == MULTIKEY_TYPE:
                return parse_did_key("did:key:" + multibase)
            return parse_did_doc_key(method["type"], multibase)
        except InvalidKeyError as exc:
            raise _fail(did, f"verification method {fragment}: {exc}") from None
    return None


def _check_endpoint(did: str, fragment: str, endpoint: object) -> str:
    if not isinstance(endpoint, str):
        raise _fail(did, f"service {fragment} endpoint must be a URL string")
    try:
        url = URL(endpoint)
    except ValueError:
        raise _fail(did, f"service {fragment} endpoint is not a URL") from None
    if url.scheme not in _URL_SCHEMES or not url.raw_host or url.raw_user is not None:
        raise _fail(did, f"service {fragment} endpoint must be an http(s) URL with a host")
    return endpoint


def service_endpoint(doc: Mapping[str, Any], fragment: str, service_type: str) -> str | None:
    """The http(s) endpoint of the first service ``fragment`` of ``service_type``, else None.

    A matching service whose endpoint is not such a URL raises :class:`DidDocumentError`.
    """
    did = doc["id"]
    for service in _entries(doc, "service"):
        if _matches(service["id"], did, fragment):
            if service["type"] != service_type:
                return None
            return _check_endpoint(did, fragment, service.get("serviceEndpoint"))
    return None


@dataclass(frozen=True, slots=True)
class AtprotoIdentity:
    """The atproto facts of a DID document; ``handle`` is as claimed, not yet verified."""

    did: str
    handle: str | None
    signing_key: PublicKey | None
    pds_endpoint: str | None
    doc: DidDocument = field(repr=False, compare=False)


def parse_atproto_identity(doc: object, did: str | None = None) -> AtprotoIdentity:
    """Validate a DID document (for ``did``, if given) and read its atproto view."""
    valid = validate_did_doc(doc, did)
    return AtprotoIdentity(
        did=valid["id"],
        handle=handle_from_doc(valid),
        signing_key=verification_key(valid),
        pds_endpoint=service_endpoint(valid, ATPROTO_PDS_ID, ATPROTO_PDS_TYPE),
        doc=valid,
    )
