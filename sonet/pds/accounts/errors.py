"""Errors of account operations, named and numbered as the reference PDS answers them."""

from __future__ import annotations

from sonet.pds.errors import PdsError

__all__ = ["AccountAuthError", "AccountError", "AccountForbiddenError", "UpstreamError"]


class AccountError(PdsError):
    """A 400 refusal; ``error`` is the XRPC error name (``InvalidRequest`` by default)."""

    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        if error is not None:
            self.error = error


class AccountAuthError(AccountError):
    """A 401: wrong credentials, or an account that may not sign in."""

    status = 401
    error = "AuthenticationRequired"


class AccountForbiddenError(AccountError):
    """A 403: the credentials are fine but the account may not do this."""

    status = 403
    error = "Forbidden"


class UpstreamError(AccountError):
    """A 502: a service the operation depends on (the PLC directory) failed."""

    status = 502
    error = "UpstreamFailure"
