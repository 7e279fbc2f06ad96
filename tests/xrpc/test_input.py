"""Request bodies: JSON decoding and lexicon validation, raw streams, encodings and limits."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import orjson
from aiohttp import ClientResponse

from sonet.repo.cid import cid_for_raw
from tests.xrpc.toy import ALICE, Client, Toy, expect_error

CREATE = "/xrpc/com.atproto.repo.createRecord"
UPLOAD = "/xrpc/com.atproto.repo.uploadBlob"
RECORD = {"$type": "app.bsky.feed.post", "text": "hello", "createdAt": "2024-01-01T00:00:00Z"}


def bearer(toy: Toy) -> dict[str, str]:
    return {"Authorization": f"Bearer {toy.tokens.create_access(ALICE)}"}


async def post_json(client: Client, toy: Toy, body: object) -> ClientResponse:
    return await client.post(
        CREATE,
        data=orjson.dumps(body),
        headers={**bearer(toy), "Content-Type": "application/json"},
    )


async def test_json_input_is_decoded_and_validated(client: Client, toy: Toy) -> None:
    body = {"repo": ALICE, "collection": "app.bsky.feed.post", "record": RECORD}
    resp = await post_json(client, toy, body)
    assert resp.status == 200, await resp.text()
    out = await resp.json()
    assert out["uri"] == f"at://{ALICE}/app.bsky.feed.post/3k2abc"


async def test_json_with_charset_and_data_model_objects(client: Client, toy: Toy) -> None:
    record = {**RECORD, "raw": {"$bytes": "aGVsbG8"}, "link": {"$link": cid_for_raw(b"x").encode()}}
    resp = await client.post(
        CREATE,
        data=orjson.dumps({"repo": ALICE, "collection": "app.bsky.feed.post", "record": record}),
        headers={**bearer(toy), "Content-Type": "application/json; charset=utf-8"},
    )
    assert resp.status == 200, await resp.text()


async def test_input_schema_violation(client: Client, toy: Toy) -> None:
    resp = await post_json(client, toy, {"repo": ALICE, "collection": "app.bsky.feed.post"})
    await expect_error(resp, 400, "InvalidRequest", 'Input must have the property "record"')


async def test_input_bad_format(client: Client, toy: Toy) -> None:
    body = {"repo": ALICE, "collection": "not-an-nsid", "record": RECORD}
    resp = await post_json(client, toy, body)
    message = (await expect_error(resp, 400, "InvalidRequest"))["message"]
    assert message.startswith("Input/collection")


async def test_input_with_float_is_refused(client: Client, toy: Toy) -> None:
    body = {"repo": ALICE, "collection": "app.bsky.feed.post", "record": {**RECORD, "n": 1.5}}
    resp = await post_json(client, toy, body)
    await expect_error(resp, 400, "InvalidRequest")


async def test_malformed_json(client: Client, toy: Toy) -> None:
    resp = await client.post(
        CREATE, data=b"{not json", headers={**bearer(toy), "Content-Type": "application/json"}
    )
    await expect_error(resp, 400, "InvalidRequest", "Request body is not valid JSON")


async def test_missing_body(client: Client, toy: Toy) -> None:
    resp = await client.post(CREATE, headers=bearer(toy))
    await expect_error(
        resp, 400, "InvalidRequest", "A request body is expected but none was provided"
    )


async def test_missing_content_type(client: Client, toy: Toy) -> None:
    resp = await client.post(
        CREATE, data=b"{}", headers=bearer(toy), skip_auto_headers=["Content-Type"]
    )
    await expect_error(
        resp, 400, "InvalidRequest", "Request encoding (Content-Type) required but not provided"
    )


async def test_wrong_content_type(client: Client, toy: Toy) -> None:
    resp = await client.post(
        CREATE, data=b"{}", headers={**bearer(toy), "Content-Type": "text/plain"}
    )
    await expect_error(
        resp, 400, "InvalidRequest", "Wrong request encoding (Content-Type): text/plain"
    )


async def test_json_over_the_limit(client: Client, toy: Toy) -> None:
    record = {**RECORD, "text": "x" * (160 * 1024)}
    resp = await post_json(client, toy, {"repo": ALICE, "collection": "a.b.c", "record": record})
    await expect_error(resp, 413, "PayloadTooLarge", "request entity too large")


async def test_chunked_json_over_the_limit(client: Client, toy: Toy) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"repo": "' + ALICE.encode() + b'", "pad": "'
        for _ in range(200):
            yield b"x" * 1024
        yield b'"}'

    resp = await client.post(
        CREATE, data=chunks(), headers={**bearer(toy), "Content-Type": "application/json"}
    )
    assert "Content-Length" not in resp.request_info.headers
    await expect_error(resp, 413, "PayloadTooLarge")


async def test_body_sent_to_a_query(client: Client) -> None:
    resp = await client.get(
        "/xrpc/com.atproto.server.describeServer",
        data=b"surprise",
        headers={"Content-Type": "text/plain"},
    )
    await expect_error(
        resp, 400, "InvalidRequest", "A request body was provided when none was expected"
    )


async def test_empty_body_sent_to_a_procedure_without_input(client: Client, toy: Toy) -> None:
    token = toy.tokens.create_refresh(ALICE)
    headers = {"Authorization": f"Bearer {token}"}
    resp = await client.post("/xrpc/com.atproto.server.deleteSession", headers=headers, data=b"")
    assert resp.status == 200, await resp.text()
    resp = await client.post("/xrpc/com.atproto.server.deleteSession", headers=headers, data=b"{}")
    await expect_error(
        resp, 400, "InvalidRequest", "A request body was provided when none was expected"
    )


async def test_raw_blob_upload(client: Client) -> None:
    data = bytes(range(256)) * 3
    resp = await client.post(UPLOAD, data=data, headers={"Content-Type": "image/png"})
    assert resp.status == 200, await resp.text()
    blob = (await resp.json())["blob"]
    assert blob == {
        "$type": "blob",
        "ref": {"$link": cid_for_raw(data).encode()},
        "mimeType": "image/png",
        "size": len(data),
    }


async def test_raw_upload_declared_too_large(client: Client) -> None:
    resp = await client.post(UPLOAD, data=b"x" * 2000, headers={"Content-Type": "image/png"})
    await expect_error(resp, 413, "PayloadTooLarge", "request entity too large")


async def test_raw_upload_streamed_too_large(client: Client) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"y" * 512

    resp = await client.post(UPLOAD, data=chunks(), headers={"Content-Type": "image/png"})
    await expect_error(resp, 413, "PayloadTooLarge")


async def test_compressed_upload_counts_decompressed_bytes(client: Client) -> None:
    bomb = gzip.compress(b"\0" * 100_000)
    assert len(bomb) < 1024
    resp = await client.post(
        UPLOAD, data=bomb, headers={"Content-Type": "image/png", "Content-Encoding": "gzip"}
    )
    await expect_error(resp, 413, "PayloadTooLarge")
