"""Blob images served by the AppView: fetched from the account's PDS (resolved through the
loopback PLC directory), CID-checked, resized per preset with Pillow, cached on disk."""

from __future__ import annotations

import io

from PIL import Image

from sonet.repo.cid import cid_for_raw
from tests.appview.test_api_support import World, fixture_plc_url, fixture_world  # noqa: F401


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def fetch(world: World, path: str) -> tuple[int, str, bytes]:
    resp = await world.client.get(path)
    return resp.status, resp.content_type, await resp.read()


async def test_presets_cache_and_formats(world: World) -> None:
    alice = await world.account("alice")
    cid = world.blobs.put(alice.did, png(2400, 1200))
    status, kind, body = await fetch(world, f"/img/avatar/plain/{alice.did}/{cid}@jpeg")
    assert (status, kind) == (200, "image/jpeg")
    assert Image.open(io.BytesIO(body)).size == (1000, 1000)
    status, _, body = await fetch(world, f"/img/feed_fullsize/plain/{alice.did}/{cid}@webp")
    assert status == 200 and Image.open(io.BytesIO(body)).format == "WEBP"
    assert Image.open(io.BytesIO(body)).size == (1000, 500)
    status, _, body = await fetch(world, f"/img/banner/plain/{alice.did}/{cid}")
    assert status == 200 and Image.open(io.BytesIO(body)).size == (2400, 1000)
    fetches = world.blobs.fetches
    status, _, _ = await fetch(world, f"/img/avatar/plain/{alice.did}/{cid}@jpeg")
    assert status == 200 and world.blobs.fetches == fetches
    small = world.blobs.put(alice.did, png(50, 40))
    status, _, body = await fetch(world, f"/img/feed_thumbnail/plain/{alice.did}/{small}@png")
    assert status == 200 and Image.open(io.BytesIO(body)).size == (50, 40)


async def test_bad_paths_and_blobs(world: World) -> None:
    alice = await world.account("alice")
    good = world.blobs.put(alice.did, png(10, 10))
    for path in (
        f"/img/huge/plain/{alice.did}/{good}",
        f"/img/avatar/plain/not-a-did/{good}",
        f"/img/avatar/plain/{alice.did}/not-a-cid",
        f"/img/avatar/plain/{alice.did}/{good}@gif",
    ):
        assert (await fetch(world, path))[0] == 400, path
    missing = cid_for_raw(b"never uploaded").encode()
    assert (await fetch(world, f"/img/avatar/plain/{alice.did}/{missing}"))[0] == 404
    # a PDS answering other bytes than the CID names
    forged = cid_for_raw(b"what was asked").encode()
    world.blobs.blobs[(alice.did, forged)] = png(10, 10)
    assert (await fetch(world, f"/img/avatar/plain/{alice.did}/{forged}"))[0] == 404
    text = world.blobs.put(alice.did, b"not an image at all")
    assert (await fetch(world, f"/img/avatar/plain/{alice.did}/{text}"))[0] == 400
    unknown = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
    assert (await fetch(world, f"/img/avatar/plain/{unknown}/{good}"))[0] == 404
