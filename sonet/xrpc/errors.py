"""XRPC error responses: a status code, an error name and a human-readable message.

https://atproto.com/specs/xrpc#error-responses: every unsuccessful response is a JSON object
``{"error": <name>, "message": <text>}``; https://atproto.com/specs/xrpc#summary-of-http-status-codes
lists the status codes. The standard names are those of the reference implementation's
``ResponseType`` (``InvalidRequest`` for 400, ``AuthenticationRequired`` for 401, ...); a
lexicon-specific name (``ExpiredToken``, ``RecordNotFound``) may replace the standard one.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "STATUS_NAMES",
    "AuthRequiredError",
    "ForbiddenError",
    "InternalServerError",
    "InvalidRequestError",
    "MappedError",
    "MethodNotImplementedError",
    "NotAcceptableError",
    "NotEnoughResourcesError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RateLimitExceededError",
    "UnsupportedMediaTypeError",
    "UpstreamFailureError",
    "UpstreamTimeoutError",
    "XRPCError",
    "status_name",
    "status_text",
]

STATUS_NAMES: Final[dict[int, tuple[str, str]]] = {
    400: ("InvalidRequest", "Invalid Request"),
    401: ("AuthenticationRequired", "Authentication Required"),
    403: ("Forbidden", "Forbidden"),
    404: ("NotFound", "Not Found"),
    406: ("NotAcceptable", "Not Acceptable"),
    413: ("PayloadTooLarge", "Payload Too Large"),
    415: ("UnsupportedMediaType", "Unsupported Media Type"),
    429: ("RateLimitExceeded", "Rate Limit Exceeded"),
    500: ("InternalServerError", "Internal Server Error"),
    501: ("MethodNotImplemented", "Method Not Implemented"),
    502: ("UpstreamFailure", "Upstream Failure"),
    503: ("NotEnoughResources", "Not Enough Resources"),
    504: ("UpstreamTimeout", "Upstream Timeout"),
}
"""Standard error name and default message of each XRPC status code."""


def _standard_status(status: int) -> int:
    """The status whose standard name describes ``status`` (other 4xx: 400, other 5xx: 500)."""
    if status in STATUS_NAMES:
        return status
    return 400 if 400 <= status < 500 else 500


def status_name(status: int) -> str:
    """The standard error name of an HTTP status (``InvalidRequest`` for an unlisted 4xx)."""
    return STATUS_NAMES[_standard_status(status)][0]


def status_text(status: int) -> str:
    """The default human-readable message of an HTTP status."""
    return STATUS_NAMES[_standard_status(status)][1]


class XRPCError(Exception):
    """An XRPC failure answered as ``status`` with ``{"error": error, "message": message}``.

    ``error`` defaults to the standard name of ``status`` and ``message`` to its standard text.
    ``headers`` are added to the error response (``Retry-After``, ``WWW-Authenticate``).
    A 500 never reveals its message to the client (it is only logged).
    """

    def __init__(
        self,
        status: int,
        error: str | None = None,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if not 400 <= status < 600:
            status = 500
        self.status = status
        self.error = error or status_name(status)
        self.message = message or status_text(status)
        self.headers = dict(headers or {})
        super().__init__(f"{self.error}: {self.message}")

    def payload(self) -> dict[str, str]:
        """The JSON body sent to the client; details of a 500 are withheld."""
        if self.status == 500:
            return {"error": self.error, "message": status_text(500)}
        return {"error": self.error, "message": self.message}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.error!r}, {self.message!r})"


class _StandardError(XRPCError):
    """An :class:`XRPCError` with a fixed status; the error name may be customised."""

    status_code: int = 500

    def __init__(
        self,
        message: str | None = None,
        error: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(self.status_code, error, message, headers)


class InvalidRequestError(_StandardError):
    """400: the request is malformed and was not processed."""

    status_code = 400


class AuthRequiredError(_StandardError):
    """401: authentication is missing or was not accepted."""

    status_code = 401


class ForbiddenError(_StandardError):
    """403: the caller lacks permission."""

    status_code = 403


class NotFoundError(_StandardError):
    """404: no such route (outside ``/xrpc/``) or resource."""

    status_code = 404


class NotAcceptableError(_StandardError):
    """406: no acceptable response encoding."""

    status_code = 406


class PayloadTooLargeError(_StandardError):
    """413: the request body is over the size limit."""

    status_code = 413


class UnsupportedMediaTypeError(_StandardError):
    """415: the request body's encoding can not be processed."""

    status_code = 415


class RateLimitExceededError(_StandardError):
    """429: a rate limit was exceeded; the client should back off."""

    status_code = 429


class InternalServerError(_StandardError):
    """500: an unexpected server-side failure."""

    status_code = 500


class MethodNotImplementedError(_StandardError):
    """501: this server does not implement the requested XRPC method."""

    status_code = 501


class UpstreamFailureError(_StandardError):
    """502: a service this request depends on failed."""

    status_code = 502


class NotEnoughResourcesError(_StandardError):
    """503: the server is temporarily out of capacity."""

    status_code = 503


class UpstreamTimeoutError(_StandardError):
    """504: a service this request depends on did not answer in time."""

    status_code = 504


class MappedError(Exception):
    """A domain error that knows its XRPC answer: subclasses set ``status`` and ``error``.

    Services raise these without depending on the HTTP layer; the error middleware answers
    them as ``{"error": error, "message": str(exc)}``.
    """

    status: int = 400
    error: str = "InvalidRequest"
