"""Typed errors of :mod:`sonet.crypto` (https://atproto.com/specs/cryptography)."""

from __future__ import annotations


class CryptoError(ValueError):
    """Base class for every error raised by :mod:`sonet.crypto`."""


class InvalidKeyError(CryptoError):
    """A private key, public key, multikey or ``did:key`` that cannot be used."""


class MultibaseError(CryptoError):
    """A multibase string, base58btc text or varint that does not decode."""
