"""The DID document of a ``did:plc`` identity, rendered from its PLC state.

https://web.plc.directory/spec/v0.1/did-plc#presentation-as-did-document
"""

from __future__ import annotations

from typing import Any, Final

from sonet.crypto import InvalidKeyError, K256PublicKey, P256PublicKey, parse_did_key
from sonet.identity.plc_ops import DocumentData

__all__ = ["format_did_doc"]

DID_CONTEXTS: Final = ("https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1")
KEY_CONTEXTS: Final[dict[str, str]] = {
    K256PublicKey.jwt_alg: "https://w3id.org/security/suites/secp256k1-2019/v1",
    P256PublicKey.jwt_alg: "https://w3id.org/security/suites/ecdsa-2019/v1",
}
DID_KEY_PREFIX: Final = "did:key:"


def _key_context(did_key: str) -> str | None:
    try:
        return KEY_CONTEXTS.get(parse_did_key(did_key).jwt_alg)
    except InvalidKeyError:
        return None  # any syntactically valid did:key may be a verification method


def format_did_doc(data: DocumentData) -> dict[str, Any]:
    """``@context``, ``id``, ``alsoKnownAs``, ``Multikey`` verification methods and services.

    Verification method ids are ``<did>#<name>``; service ids are ``#<name>``, as the
    reference directory renders them.
    """
    did = data["did"]
    context = list(DID_CONTEXTS)
    methods = []
    for name, key in data["verificationMethods"].items():
        extra = _key_context(key)
        if extra is not None and extra not in context:
            context.append(extra)
        methods.append(
            {
                "id": f"{did}#{name}",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": key.removeprefix(DID_KEY_PREFIX),
            }
        )
    services = [
        {"id": f"#{name}", "type": service["type"], "serviceEndpoint": service["endpoint"]}
        for name, service in data["services"].items()
    ]
    return {
        "@context": context,
        "id": did,
        "alsoKnownAs": list(data["alsoKnownAs"]),
        "verificationMethod": methods,
        "service": services,
    }
