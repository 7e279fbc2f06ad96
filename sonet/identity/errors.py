"""Typed errors of DID and handle resolution (https://atproto.com/specs/did)."""

from __future__ import annotations


class IdentityError(ValueError):
    """Base class for the errors of :mod:`sonet.identity` resolution."""


class InvalidDidError(IdentityError):
    """A string that is not a DID, or not a well-formed DID of its method."""


class UnsupportedDidError(IdentityError):
    """A DID method or form atproto does not resolve (e.g. did:web with a path)."""


class DidNotFoundError(IdentityError):
    """The DID's method positively says the DID does not exist (HTTP 404 or 410)."""

    def __init__(self, did: str) -> None:
        self.did = did
        super().__init__(f"DID not found: {did}")


class DidResolutionError(IdentityError):
    """Resolution failed without an answer: network, timeout, refused address, bad status."""


class DidDocumentError(IdentityError):
    """A DID document that is malformed, or whose ``id`` is not the requested DID."""


class InvalidHandleError(IdentityError):
    """A string that is not a syntactically valid handle."""
