"""The PDS's plain HTTP routes: handle and DID well-known documents, the home banner.

- ``GET /.well-known/atproto-did`` (https://atproto.com/specs/handle#https-well-known-method):
  on a request whose ``Host`` is the handle of an active account hosted here, the account's DID
  as ``text/plain``; otherwise 404.
- ``GET /.well-known/did.json`` (https://atproto.com/specs/did#did-web): the PDS's own
  ``did:web`` document, its ``#atproto_pds`` service at the public URL (and its ``#atproto`` key
  when the service has one); 404 when the service DID is not a ``did:web``.
- ``GET /`` and ``GET /robots.txt``: a short text banner and an allow-all robots file.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from sonet.crypto import PublicKey
from sonet.pds.context import PdsContext
from sonet.syntax.handle import is_handle_under
from sonet.xrpc.responses import json_response

__all__ = [
    "BANNER",
    "add_well_known_routes",
    "did_web_document",
    "handle_from_host",
    "is_hosted_handle",
]

BANNER: Final = """\
Sonet: an AT Protocol personal data server (PDS).

The API is served under /xrpc/ (https://atproto.com/specs/xrpc).
"""
ROBOTS: Final = "User-agent: *\nAllow: /\n"
DID_CONTEXTS: Final = ("https://www.w3.org/ns/did/v1",)
MULTIKEY_CONTEXT: Final = "https://w3id.org/security/multikey/v1"
_NOT_FOUND: Final = "User not found"


def handle_from_host(host: str) -> str:
    """The lower-case hostname of a ``Host`` header (port and trailing dot removed)."""
    if host.startswith("["):
        return host.lower()  # an IPv6 literal is never a handle
    return host.rsplit(":", 1)[0].rstrip(".").lower()


def is_hosted_handle(handle: str, user_domains: tuple[str, ...]) -> bool:
    """True if ``handle`` (lower-case) is under, or is, one of the PDS's user domains."""
    return is_handle_under(handle, user_domains)


def did_web_document(
    did: str, public_url: str, signing_key: PublicKey | None = None
) -> dict[str, Any]:
    """The ``did:web`` document of a PDS: its service endpoint and optional ``#atproto`` key."""
    doc: dict[str, Any] = {"@context": list(DID_CONTEXTS), "id": did}
    if signing_key is not None:
        doc["@context"].append(MULTIKEY_CONTEXT)
        doc["verificationMethod"] = [
            {
                "id": f"{did}#atproto",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": signing_key.multibase(),
            }
        ]
    doc["service"] = [
        {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": public_url}
    ]
    return doc


def add_well_known_routes(
    app: web.Application, ctx: PdsContext, *, signing_key: PublicKey | None = None
) -> None:
    """Add the well-known, home and robots routes of ``ctx``'s PDS to ``app``.

    ``signing_key`` is the service's own atproto key, published in its DID document if given.
    """

    async def atproto_did(request: web.Request) -> web.Response:
        handle = handle_from_host(request.host)
        if not is_hosted_handle(handle, ctx.config.user_domains):
            return web.Response(status=404, text=_NOT_FOUND)
        row = await ctx.accounts.lookup(handle)
        if row is None or row.handle != handle or not row.active:
            return web.Response(status=404, text=_NOT_FOUND)
        return web.Response(text=row.did, content_type="text/plain")

    async def did_json(_request: web.Request) -> web.Response:
        config = ctx.config
        if not config.service_did.startswith("did:web:"):
            return web.Response(status=404, text="Not Found")
        return json_response(did_web_document(config.service_did, config.public_url, signing_key))

    async def home(_request: web.Request) -> web.Response:
        return web.Response(text=BANNER, content_type="text/plain")

    async def robots(_request: web.Request) -> web.Response:
        return web.Response(text=ROBOTS, content_type="text/plain")

    app.router.add_get("/.well-known/atproto-did", atproto_did)
    app.router.add_get("/.well-known/did.json", did_json)
    app.router.add_get("/", home)
    app.router.add_get("/robots.txt", robots)
