"""Async client of a PLC directory, and the DID creation helper the PDS uses.

https://web.plc.directory/spec/v0.1/did-plc#did-creation and the sections after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import aiohttp
import orjson

from sonet.crypto import Keypair
from sonet.identity.plc_errors import (
    DidNotFoundError,
    DidTombstonedError,
    ImproperOperationError,
    PlcRequestError,
)
from sonet.identity.plc_log import LogEntry, parse_log_entry, verify_audit_log
from sonet.identity.plc_ops import (
    AnyOp,
    DocumentData,
    Operation,
    Tombstone,
    create_atproto_op,
    op_cid,
    tombstone_op,
    update_operation,
)
from sonet.identity.plc_validate import parse_operation

__all__ = ["CreatedDid", "PlcClient", "create_did"]


def _did_key(key: str | Keypair) -> str:
    return key if isinstance(key, str) else key.did()


class PlcClient:
    """Reads and writes one directory over a caller-owned :class:`aiohttp.ClientSession`."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self._session = session
        self.url = url.rstrip("/")

    def _url(self, did: str, suffix: str = "") -> str:
        return f"{self.url}/{quote(did, safe=':')}{suffix}"

    async def _request(
        self, method: str, url: str, body: Any = None, params: dict[str, str] | None = None
    ) -> bytes:
        data = None if body is None else orjson.dumps(body)
        headers = {"content-type": "application/json"} if data is not None else {}
        async with self._session.request(
            method, url, data=data, headers=headers, params=params
        ) as resp:
            payload = await resp.read()
            if resp.status < 400:
                return payload
        try:
            message = str(orjson.loads(payload)["message"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            message = payload[:200].decode("utf-8", "replace")
        error = {404: DidNotFoundError, 410: DidTombstonedError}.get(resp.status, PlcRequestError)
        raise error(resp.status, message)

    async def _get_json(self, url: str) -> Any:
        payload = await self._request("GET", url)
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise PlcRequestError(200, f"response of {url} is not JSON") from None

    async def get_document(self, did: str) -> dict[str, Any]:
        """``GET /:did``: the DID document."""
        doc = await self._get_json(self._url(did))
        if not isinstance(doc, dict):
            raise PlcRequestError(200, "DID document is not a JSON object")
        return doc

    async def get_document_data(self, did: str) -> DocumentData:
        """``GET /:did/data``: keys, aliases and services, as served (not verified)."""
        data = await self._get_json(self._url(did, "/data"))
        if not isinstance(data, dict) or data.get("did") != did:
            raise PlcRequestError(200, f"PLC data of {did} is malformed")
        return cast(DocumentData, data)

    async def get_operation_log(self, did: str) -> list[AnyOp]:
        """``GET /:did/log``: the valid chain, each op shape-checked."""
        ops = await self._get_json(self._url(did, "/log"))
        if not isinstance(ops, list):
            raise PlcRequestError(200, "operation log is not a list")
        return [parse_operation(op) for op in ops]

    async def get_audit_log(self, did: str) -> list[LogEntry]:
        """``GET /:did/log/audit``: every entry, each CID checked against its op."""
        entries = await self._get_json(self._url(did, "/log/audit"))
        if not isinstance(entries, list):
            raise PlcRequestError(200, "audit log is not a list")
        return [parse_log_entry(entry) for entry in entries]

    async def get_verified_data(self, did: str) -> DocumentData | None:
        """The DID's state from its audit log, with every signature and fork re-checked."""
        return verify_audit_log(did, await self.get_audit_log(did))

    async def get_last_op(self, did: str) -> AnyOp:
        """``GET /:did/log/last``: the latest valid operation."""
        return parse_operation(await self._get_json(self._url(did, "/log/last")))

    async def send_operation(self, did: str, op: AnyOp) -> None:
        """``POST /:did``: submit a signed operation; :class:`PlcRequestError` if refused."""
        await self._request("POST", self._url(did), op)

    async def export(self, after: int | str | None = None, count: int | None = None) -> list[Any]:
        """``GET /export``: one page of JSON lines (``after``: a ``seq`` or a timestamp)."""
        params: dict[str, str] = {}
        if after is not None:
            params["after"] = str(after)
        if count is not None:
            params["count"] = str(count)
        payload = await self._request("GET", f"{self.url}/export", params=params)
        try:
            return [orjson.loads(line) for line in payload.splitlines() if line.strip()]
        except orjson.JSONDecodeError:
            raise PlcRequestError(200, "export page is not JSON lines") from None

    async def health(self) -> dict[str, Any]:
        """``GET /_health``: the directory's version."""
        result = await self._get_json(f"{self.url}/_health")
        return result if isinstance(result, dict) else {}

    async def update_atproto(
        self,
        did: str,
        signer: Keypair,
        *,
        signing_key: str | Keypair | None = None,
        handle: str | None = None,
        pds_endpoint: str | None = None,
        rotation_keys: Sequence[str | Keypair] | None = None,
    ) -> Operation:
        """Sign and submit an update of the latest op changing only the given fields."""
        last = await self.get_last_op(did)
        if last["type"] == "plc_tombstone":
            raise DidTombstonedError(410, f"DID not available: {did}")
        op = update_operation(
            last,
            signer,
            signing_key=None if signing_key is None else _did_key(signing_key),
            handle=handle,
            pds_endpoint=pds_endpoint,
            rotation_keys=None if rotation_keys is None else [_did_key(k) for k in rotation_keys],
        )
        await self.send_operation(did, op)
        return op

    async def tombstone(self, did: str, signer: Keypair) -> Tombstone:
        """Sign and submit a tombstone after the latest op."""
        op = tombstone_op(op_cid(await self.get_last_op(did)), signer)
        await self.send_operation(did, op)
        return op


@dataclass(frozen=True, slots=True)
class CreatedDid:
    """A DID registered by :func:`create_did`, with its genesis op."""

    did: str
    operation: Operation


async def create_did(
    plc_url: str,
    signing_key: str | Keypair,
    rotation_keys: Sequence[str | Keypair],
    handle: str,
    pds_endpoint: str,
    *,
    session: aiohttp.ClientSession,
    signer: Keypair | None = None,
) -> CreatedDid:
    """Register a new ``did:plc`` for an atproto account and return it.

    ``rotation_keys`` is in priority order; the genesis op is signed by ``signer``, by default
    the first entry given as a key pair.
    """
    keys = [_did_key(k) for k in rotation_keys]
    if signer is None:
        signer = next((k for k in rotation_keys if isinstance(k, Keypair)), None)
    if signer is None or signer.did() not in keys:
        raise ImproperOperationError("the genesis op must be signed by one of its rotation keys")
    did, op = create_atproto_op(
        signing_key=_did_key(signing_key),
        handle=handle,
        pds_endpoint=pds_endpoint,
        rotation_keys=keys,
        signer=signer,
    )
    await PlcClient(session, plc_url).send_operation(did, op)
    return CreatedDid(did, op)
