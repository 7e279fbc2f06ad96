"""Outbound HTTP that cannot be steered at private networks (SSRF-safe), and DNS helpers.

Every fetch of a URL named by someone else (DID documents, handles, PDS and
feed endpoints) goes through :class:`HttpClient`, whose connector refuses
non-public addresses after DNS resolution, so DNS rebinding cannot bypass it.
"""

from sonet.net.errors import FetchError, NetError, ResponseTooLargeError, SsrfError
from sonet.net.http import FetchedResponse, HttpClient, HttpClientConfig, create_session
from sonet.net.limits import read_limited
from sonet.net.ssrf import AddressPolicy, SsrfSafeResolver, is_forbidden_address

__all__ = [
    "AddressPolicy",
    "FetchError",
    "FetchedResponse",
    "HttpClient",
    "HttpClientConfig",
    "NetError",
    "ResponseTooLargeError",
    "SsrfError",
    "SsrfSafeResolver",
    "create_session",
    "is_forbidden_address",
    "read_limited",
]
