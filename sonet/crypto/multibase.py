"""Multibase (base58btc, ``z`` prefix) and multicodec varint prefixes.

https://atproto.com/specs/cryptography#public-key-encoding
"""

from __future__ import annotations

from typing import Final

from sonet.crypto.errors import MultibaseError

BASE58BTC_PREFIX: Final = "z"
_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_DIGIT_VALUE: Final = {char: value for value, char in enumerate(_ALPHABET)}
_MAX_VARINT_BYTES: Final = 9


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128 varint, as multicodec prefixes use it."""
    if value < 0:
        raise MultibaseError(f"varint cannot encode a negative number: {value}")
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def decode_varint(data: bytes) -> tuple[int, int]:
    """Read a minimal unsigned varint at the start of ``data``: ``(value, length)``."""
    value = 0
    for index, byte in enumerate(data[:_MAX_VARINT_BYTES]):
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            if byte == 0 and index > 0:
                raise MultibaseError("varint is not minimally encoded")
            return value, index + 1
    raise MultibaseError("truncated or overlong varint")


# Multicodec codes (https://github.com/multiformats/multicodec/blob/master/table.csv).
SECP256K1_PUB: Final = encode_varint(0xE7)
P256_PUB: Final = encode_varint(0x1200)
SECP256K1_PRIV: Final = encode_varint(0x1301)
P256_PRIV: Final = encode_varint(0x1306)


def b58encode(data: bytes) -> str:
    """Bitcoin-alphabet base58: each leading zero byte becomes a ``1``."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(_ALPHABET[remainder])
    return "1" * zeros + "".join(reversed(digits))


def b58decode(text: str) -> bytes:
    """Inverse of :func:`b58encode`; raises :class:`MultibaseError` on a foreign character."""
    number = 0
    try:
        for char in text:
            number = number * 58 + _DIGIT_VALUE[char]
    except KeyError as exc:
        raise MultibaseError(f"not a base58btc character: {exc.args[0]!r}") from None
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")


def multibase_encode(data: bytes) -> str:
    """Multibase text in base58btc: ``'z' + base58btc(data)``."""
    return BASE58BTC_PREFIX + b58encode(data)


def multibase_decode(text: str) -> bytes:
    """Decode base58btc multibase text; any other multibase prefix is refused."""
    if not text.startswith(BASE58BTC_PREFIX):
        raise MultibaseError(f"expected base58btc multibase ('z' prefix): {text[:16]!r}")
    return b58decode(text[1:])
