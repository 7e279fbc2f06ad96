"""Password hashing with Argon2id, a memory-hard KDF, run off the event loop.

Account passwords get a random salt (PHC string format). App passwords are looked up by hash,
so theirs is salted with a per-account value derived from the DID: one KDF run finds the match.
Length limits follow the reference PDS (new passwords at most 256 characters, any password
checked at most 512).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from typing import Final

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import hash_secret_raw

__all__ = [
    "NEW_PASSWORD_MAX_LENGTH",
    "OLD_PASSWORD_MAX_LENGTH",
    "hash_app_password",
    "hash_password",
    "new_app_password",
    "verify_password",
]

NEW_PASSWORD_MAX_LENGTH: Final = 256
OLD_PASSWORD_MAX_LENGTH: Final = 512
TIME_COST: Final = 2
MEMORY_KIB: Final = 19 * 1024
PARALLELISM: Final = 1
HASH_LENGTH: Final = 32
_APP_PASSWORD_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz234567"

_hasher = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_KIB,
    parallelism=PARALLELISM,
    hash_len=HASH_LENGTH,
    type=Type.ID,
)


async def hash_password(password: str) -> str:
    """An Argon2id PHC string for ``password`` with a random salt."""
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """True if ``password`` matches the stored PHC string (False for none or a malformed one)."""
    if not stored or len(password) > OLD_PASSWORD_MAX_LENGTH:
        return False
    return await asyncio.to_thread(_verify, stored, password)


def _app_password_hash(did: str, password: str) -> str:
    salt = hashlib.sha256(did.encode()).digest()[:16]
    raw = hash_secret_raw(
        password.encode(), salt, TIME_COST, MEMORY_KIB, PARALLELISM, HASH_LENGTH, Type.ID
    )
    return raw.hex()


async def hash_app_password(did: str, password: str) -> str:
    """The hex Argon2id hash of an app password of ``did`` (deterministic per account)."""
    return await asyncio.to_thread(_app_password_hash, did, password)


def new_app_password() -> str:
    """A fresh app password: four groups of four base32 characters (``abcd-efgh-ijkl-mnop``)."""
    chars = "".join(secrets.choice(_APP_PASSWORD_ALPHABET) for _ in range(16))
    return "-".join(chars[i : i + 4] for i in range(0, 16, 4))
