"""Realistic DID documents and a real loopback server playing PLC directory and web hosts."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from sonet.crypto import K256Keypair, Keypair
from tests.net.servers import serve_app

BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
PLC_CONTEXT = [
    "https://www.w3.org/ns/did/v1",
    "https://w3id.org/security/multikey/v1",
    "https://w3id.org/security/suites/secp256k1-2019/v1",
]


def random_plc_did() -> str:
    return "did:plc:" + "".join(secrets.choice(BASE32) for _ in range(24))


def plc_style_doc(
    did: str,
    handle: str | None = "alice.test",
    pds: str = "https://pds.example.com",
    keypair: Keypair | None = None,
) -> dict[str, Any]:
    """A document shaped like the ones the PLC directory serves today."""
    key = keypair or K256Keypair.generate()
    return {
        "@context": PLC_CONTEXT,
        "id": did,
        "alsoKnownAs": [f"at://{handle}"] if handle else [],
        "verificationMethod": [
            {
                "id": f"{did}#atproto",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": key.public_key().multibase(),
            }
        ],
        "service": [
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds}
        ],
    }


@dataclass
class Reply:
    """One canned HTTP answer."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    delay: float = 0.0
    location: str | None = None

    @classmethod
    def json(cls, value: object) -> Reply:
        return cls(body=orjson.dumps(value))

    @classmethod
    def text(cls, value: str) -> Reply:
        return cls(body=value.encode(), content_type="text/plain")


class IdentityServer:
    """Answers by (Host name, path), falling back to path alone; 404 otherwise."""

    def __init__(self) -> None:
        self.replies: dict[tuple[str | None, str], Reply] = {}
        self.hits: Counter[str] = Counter()
        self.app = web.Application()
        self.app.router.add_get("/{tail:.*}", self._handle)

    def add(self, path: str, reply: Reply, host: str | None = None) -> None:
        self.replies[(host, path)] = reply

    def add_plc_doc(self, doc: dict[str, Any]) -> None:
        self.add("/" + doc["id"], Reply.json(doc))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        host = request.host.rpartition(":")[0] or request.host
        self.hits[request.path] += 1
        reply = self.replies.get((host, request.path)) or self.replies.get((None, request.path))
        if reply is None:
            return web.Response(status=404, text="not found")
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.location is not None:
            return web.Response(status=reply.status, headers={"Location": reply.location})
        return web.Response(status=reply.status, body=reply.body, content_type=reply.content_type)


@asynccontextmanager
async def running_identity_server() -> AsyncIterator[tuple[IdentityServer, int]]:
    server = IdentityServer()
    async with serve_app(server.app) as port:
        yield server, port
