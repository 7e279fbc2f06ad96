"""Shared test parameters: both curves with their group orders."""

from __future__ import annotations

from typing import Final

from sonet.crypto import K256Keypair, Keypair, P256Keypair

K256_ORDER: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
CURVES: Final[list[tuple[type[Keypair], int]]] = [
    (K256Keypair, K256_ORDER),
    (P256Keypair, P256_ORDER),
]
CURVE_IDS: Final = ["k256", "p256"]


def flip_s(sig: bytes, order: int) -> bytes:
    """The other (high-S) twin of a valid compact signature."""
    s = int.from_bytes(sig[32:], "big")
    return sig[:32] + (order - s).to_bytes(32, "big")
