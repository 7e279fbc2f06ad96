"""Where a proxied call goes: the ``atproto-proxy`` header or a configured default service.

https://atproto.com/specs/xrpc#service-proxying: the header is ``<did>#<service id>``; the DID
document's service entry with that id gives the endpoint. A configured AppView named by its
``did#bsky_appview`` is reached at its configured URL without resolving its DID.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sonet.identity.did_doc import service_endpoint
from sonet.identity.did_resolver import DidResolver
from sonet.identity.errors import DidResolutionError, IdentityError
from sonet.pds.config import PdsConfig
from sonet.pds.proxy_methods import DefaultService, default_service
from sonet.syntax.did import is_valid_did
from sonet.xrpc.errors import InvalidRequestError, UpstreamFailureError

__all__ = [
    "PROXY_HEADER",
    "ProxyServices",
    "ProxyTarget",
    "ServiceEndpoint",
    "parse_proxy_header",
    "resolve_proxy_target",
]

PROXY_HEADER: Final = "atproto-proxy"


@dataclass(frozen=True, slots=True)
class ServiceEndpoint:
    """A service reached at ``url`` whose DID (the service JWT audience) is ``did``."""

    url: str
    did: str


@dataclass(frozen=True, slots=True)
class ProxyTarget:
    """The service a call is forwarded to: its DID, the service id used and its base URL."""

    did: str
    service_id: str
    url: str

    @property
    def proxy_to(self) -> str:
        """The ``did#service`` form, as in the ``atproto-proxy`` header."""
        return f"{self.did}#{self.service_id}"


def _endpoint(url: str | None, did: str | None) -> ServiceEndpoint | None:
    if url and did:
        return ServiceEndpoint(url.rstrip("/"), did)
    return None


@dataclass(frozen=True, slots=True)
class ProxyServices:
    """The configured default services (any may be absent)."""

    appview: ServiceEndpoint | None = None
    chat: ServiceEndpoint | None = None
    moderation: ServiceEndpoint | None = None
    reports: ServiceEndpoint | None = None

    @classmethod
    def from_config(cls, config: PdsConfig) -> ProxyServices:
        """Each service whose URL and DID are both configured."""
        return cls(
            appview=_endpoint(config.appview_url, config.appview_did),
            chat=_endpoint(config.chat_url, config.chat_did),
            moderation=_endpoint(config.mod_service_url, config.mod_service_did),
            reports=_endpoint(config.report_service_url, config.report_service_did),
        )

    def get(self, service: DefaultService) -> ServiceEndpoint | None:
        """The endpoint configured for ``service``."""
        return {
            DefaultService.APPVIEW: self.appview,
            DefaultService.CHAT: self.chat,
            DefaultService.MODERATION: self.moderation,
            DefaultService.REPORTS: self.reports,
        }[service]

    def default_target(self, nsid: str) -> ProxyTarget | None:
        """The configured service ``nsid`` goes to without a header (``None``: none is)."""
        service = default_service(nsid)
        endpoint = self.get(service)
        if endpoint is None:
            return None
        return ProxyTarget(endpoint.did, service.service_id, endpoint.url)


def parse_proxy_header(value: str) -> tuple[str, str]:
    """``(did, service id)`` of an ``atproto-proxy`` header, refused with the reference's
    messages when malformed."""
    did, hash_sign, service_id = value.partition("#")
    if hash_sign and not did:
        raise InvalidRequestError("no did specified in proxy header")
    if not service_id:
        raise InvalidRequestError("no service id specified in proxy header")
    if "#" in service_id:
        raise InvalidRequestError("invalid proxy header format")
    if " " in value:
        raise InvalidRequestError("proxy header cannot contain spaces")
    if not is_valid_did(did):
        raise InvalidRequestError("invalid did in proxy header")
    return did, service_id


def _service_type(doc: Mapping[str, Any], fragment: str) -> str | None:
    """The type of the service entry ``fragment`` (``#id`` or ``<did>#id``), if any."""
    full = f"{doc['id']}{fragment}"
    for entry in doc.get("service") or ():
        if isinstance(entry, dict) and entry.get("id") in (fragment, full):
            kind = entry.get("type")
            return kind if isinstance(kind, str) else None
    return None


async def resolve_proxy_target(
    header: str | None, nsid: str, services: ProxyServices, dids: DidResolver
) -> ProxyTarget:
    """The target of a call: its ``atproto-proxy`` header, else the default service."""
    if header is None:
        target = services.default_target(nsid)
        if target is None:
            raise InvalidRequestError(f"No service configured for {nsid}")
        return target
    did, service_id = parse_proxy_header(header)
    appview = services.appview
    if appview is not None and did == appview.did and service_id == "bsky_appview":
        return ProxyTarget(did, service_id, appview.url)
    try:
        doc = await dids.resolve(did)
        fragment = f"#{service_id}"
        kind = _service_type(doc, fragment)
        url = None if kind is None else service_endpoint(doc, fragment, kind)
    except DidResolutionError:
        raise UpstreamFailureError("could not resolve proxy did") from None
    except IdentityError:
        raise InvalidRequestError("could not resolve proxy did") from None
    if url is None:
        raise InvalidRequestError("could not resolve proxy did service url")
    return ProxyTarget(did, service_id, url.rstrip("/"))
