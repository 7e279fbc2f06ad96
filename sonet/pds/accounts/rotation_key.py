"""The PDS's own ``did:plc`` rotation key, made once and kept in the database.

Every DID the PDS mints lists this key, so the PDS can later sign PLC operations for its
accounts (handle changes, migrations). Keeping it in the database lets every PDS process that
shares the database use the same key.
"""

from __future__ import annotations

from typing import Final

from sonet.crypto import Keypair, generate_keypair, import_private_multibase
from sonet.storage.database import Database
from sonet.storage.pds_secret_store import SecretStore

__all__ = ["ROTATION_KEY_NAME", "load_rotation_key"]

ROTATION_KEY_NAME: Final = "plc_rotation_key"


async def load_rotation_key(db: Database) -> Keypair:
    """The stored K-256 rotation key, generated and stored on first use."""
    candidate = generate_keypair("k256").export_private_multibase()
    async with db.write() as conn:
        stored = await SecretStore().get_or_put(conn, ROTATION_KEY_NAME, candidate)
    return import_private_multibase(stored)
