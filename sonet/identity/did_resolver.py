"""Resolving ``did:plc`` and ``did:web`` DIDs to DID documents.

https://atproto.com/specs/did#did-methods: ``did:plc`` documents come from
``GET <plc directory>/<did>`` (https://web.plc.directory/spec/v0.1/did-plc);
``did:web`` is hostname-level only, ``https://<host>/.well-known/did.json``,
with a port (percent-encoded ``%3A``) only for development. Redirects are not
followed, 404/410 mean "not found", anything else that fails is an error.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote

import orjson
from yarl import URL

from sonet.crypto import PublicKey, parse_did_key
from sonet.identity.cache import IdentityCache
from sonet.identity.cached_lookup import CachedLookup
from sonet.identity.did_doc import (
    AtprotoIdentity,
    DidDocument,
    parse_atproto_identity,
    validate_did_doc,
)
from sonet.identity.errors import (
    DidDocumentError,
    DidNotFoundError,
    DidResolutionError,
    InvalidDidError,
    UnsupportedDidError,
)
from sonet.net import HttpClient, NetError
from sonet.syntax.did import is_valid_did
from sonet.syntax.handle import is_valid_handle

DEFAULT_PLC_URL: Final = "https://plc.directory"
MAX_DID_DOC_BYTES: Final = 64 * 1024
DID_DOC_ACCEPT: Final = "application/did+ld+json, application/json"
DID_WEB_PATH: Final = "/.well-known/did.json"
NOT_FOUND_STATUSES: Final = frozenset({404, 410})
PLC_PREFIX: Final = "did:plc:"
WEB_PREFIX: Final = "did:web:"
KEY_PREFIX: Final = "did:key:"
_PLC_DID: Final = re.compile(r"did:plc:[a-z2-7]{24}")
_LOCALHOST: Final = "localhost"


class DidResolver:
    """Resolves DIDs through ``http``, caching documents in ``cache`` if one is given.

    ``allow_web_ports`` (default: the HTTP client's ``allow_private``) admits
    ``did:web`` DIDs with a port, as used in tests and development.
    """

    def __init__(
        self,
        http: HttpClient,
        *,
        plc_url: str = DEFAULT_PLC_URL,
        timeout: float = 3.0,
        cache: IdentityCache[DidDocument] | None = None,
        max_doc_bytes: int = MAX_DID_DOC_BYTES,
        allow_web_ports: bool | None = None,
    ) -> None:
        self._http = http
        self.plc_url = plc_url.rstrip("/")
        self.timeout = timeout
        self.max_doc_bytes = max_doc_bytes
        self.allow_web_ports = (
            http.config.allow_private if allow_web_ports is None else allow_web_ports
        )
        self._lookup = CachedLookup(self._fetch, cache)

    async def resolve(self, did: str) -> DidDocument:
        """The DID document (from the cache when there), or :class:`DidNotFoundError`."""
        return self._found(did, await self._lookup.get(did))

    async def refresh(self, did: str) -> DidDocument:
        """The DID document fetched now, bypassing (and then updating) the cache."""
        return self._found(did, await self._lookup.refresh(did))

    async def resolve_atproto(self, did: str, *, force_refresh: bool = False) -> AtprotoIdentity:
        """The atproto view (handle as claimed, signing key, PDS) of the DID's document."""
        doc = await (self.refresh(did) if force_refresh else self.resolve(did))
        return parse_atproto_identity(doc, did)

    async def resolve_signing_key(self, did: str, *, force_refresh: bool = False) -> PublicKey:
        """The ``#atproto`` key of ``did``; a ``did:key`` is its own key."""
        if did.startswith(KEY_PREFIX):
            return parse_did_key(did)
        identity = await self.resolve_atproto(did, force_refresh=force_refresh)
        if identity.signing_key is None:
            raise DidDocumentError(f"DID document for {did} has no #atproto signing key")
        return identity.signing_key

    def document_url(self, did: str) -> URL:
        """Where the document of ``did`` is fetched from; raises for a DID not resolvable."""
        if not isinstance(did, str) or not is_valid_did(did):
            raise InvalidDidError(f"not a DID: {str(did)[:100]!r}")
        if did.startswith(PLC_PREFIX):
            if _PLC_DID.fullmatch(did) is None:
                raise InvalidDidError(f"malformed did:plc: {did[:100]!r}")
            return URL(f"{self.plc_url}/{did}")
        if did.startswith(WEB_PREFIX):
            return self._did_web_url(did)
        raise UnsupportedDidError(f"unsupported DID method: {did[:100]!r}")

    def _did_web_url(self, did: str) -> URL:
        ident = did[len(WEB_PREFIX) :]
        if ":" in ident:
            raise UnsupportedDidError(f"did:web with a path is not supported: {did[:100]!r}")
        authority = unquote(ident).lower()
        host, sep, port = authority.partition(":")
        if host != _LOCALHOST and not is_valid_handle(host):
            raise InvalidDidError(f"did:web host is not a hostname: {did[:100]!r}")
        if sep and not (port.isdigit() and 0 < int(port) < 65536):
            raise InvalidDidError(f"did:web port is not a port number: {did[:100]!r}")
        if sep and not self.allow_web_ports:
            raise UnsupportedDidError(f"did:web with a port is only for development: {did!r}")
        scheme = "http" if host == _LOCALHOST else "https"
        return URL.build(
            scheme=scheme, host=host, port=int(port) if sep else None, path=DID_WEB_PATH
        )

    @staticmethod
    def _found(did: str, doc: DidDocument | None) -> DidDocument:
        if doc is None:
            raise DidNotFoundError(did)
        return doc

    async def _fetch(self, did: str) -> DidDocument | None:
        url = self.document_url(did)
        try:
            resp = await self._http.get(
                url,
                max_bytes=self.max_doc_bytes,
                accept=DID_DOC_ACCEPT,
                follow_redirects=False,
                timeout=self.timeout,
            )
        except NetError as exc:
            raise DidResolutionError(f"resolving {did}: {exc}") from exc
        if resp.status in NOT_FOUND_STATUSES:
            return None
        if not resp.ok:
            raise DidResolutionError(f"resolving {did}: HTTP {resp.status} from {url}")
        try:
            doc = orjson.loads(resp.body)
        except orjson.JSONDecodeError as exc:
            raise DidDocumentError(f"DID document for {did} is not JSON: {exc}") from None
        return validate_did_doc(doc, did)

    async def close(self) -> None:
        """Cancel background refreshes (the HTTP client is closed by its owner)."""
        await self._lookup.close()
