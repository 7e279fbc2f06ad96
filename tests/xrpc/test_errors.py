"""Error types, their statuses and names, and data-model JSON encoding."""

from __future__ import annotations

import pytest

from sonet.repo.cid import cid_for_raw
from sonet.xrpc import errors
from sonet.xrpc.responses import dump_json

STANDARD = [
    (errors.InvalidRequestError, 400, "InvalidRequest"),
    (errors.AuthRequiredError, 401, "AuthenticationRequired"),
    (errors.ForbiddenError, 403, "Forbidden"),
    (errors.NotFoundError, 404, "NotFound"),
    (errors.NotAcceptableError, 406, "NotAcceptable"),
    (errors.PayloadTooLargeError, 413, "PayloadTooLarge"),
    (errors.UnsupportedMediaTypeError, 415, "UnsupportedMediaType"),
    (errors.RateLimitExceededError, 429, "RateLimitExceeded"),
    (errors.InternalServerError, 500, "InternalServerError"),
    (errors.MethodNotImplementedError, 501, "MethodNotImplemented"),
    (errors.UpstreamFailureError, 502, "UpstreamFailure"),
    (errors.NotEnoughResourcesError, 503, "NotEnoughResources"),
    (errors.UpstreamTimeoutError, 504, "UpstreamTimeout"),
]


@pytest.mark.parametrize(("cls", "status", "name"), STANDARD)
def test_standard_errors(cls: type[errors.InvalidRequestError], status: int, name: str) -> None:
    err = cls()
    assert (err.status, err.error, err.message) == (status, name, errors.status_text(status))
    custom = cls("details", "CustomName")
    assert (custom.status, custom.error, custom.message) == (status, "CustomName", "details")
    assert isinstance(custom, errors.XRPCError)


def test_payload_hides_internal_details() -> None:
    assert errors.InternalServerError("db password").payload() == {
        "error": "InternalServerError",
        "message": "Internal Server Error",
    }
    assert errors.InvalidRequestError("bad cursor").payload() == {
        "error": "InvalidRequest",
        "message": "bad cursor",
    }


def test_unlisted_statuses() -> None:
    assert errors.XRPCError(418).error == "InvalidRequest"
    assert errors.XRPCError(599).error == "InternalServerError"
    assert errors.XRPCError(200).status == 500
    assert repr(errors.XRPCError(400, "X", "y")) == "XRPCError(400, 'X', 'y')"


def test_dump_json_writes_links_and_bytes() -> None:
    cid = cid_for_raw(b"data")
    out = dump_json({"ref": cid, "raw": b"hello", "n": [1, "two", None, True]})
    assert out == (
        b'{"ref":{"$link":"' + cid.encode().encode() + b'"},"raw":{"$bytes":"aGVsbG8"},'
        b'"n":[1,"two",null,true]}'
    )
    with pytest.raises(TypeError):
        dump_json({"x": object()})
