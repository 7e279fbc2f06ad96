"""Small pieces of the read API on their own: cursors, the search query parser, feed skeleton
parsing, image paths and rendering, timeline merging."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from sonet.appview.api.common import clearly_bad_cursor, pack_cursor, unpack_cursor
from sonet.appview.api.feedgen import _parse
from sonet.appview.api.search import parse_post_query
from sonet.appview.images import (
    PRESETS,
    BadImagePathError,
    parse_image_path,
    render_image,
)
from sonet.appview.timeline import RECENT_ITEMS, _from_cache, _merge
from sonet.storage.appview_read_feeds import FeedItemRef
from sonet.storage.appview_read_sql import Keyset
from sonet.xrpc.errors import InvalidRequestError, UpstreamFailureError

DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"


def test_cursors_round_trip_and_refuse_garbage() -> None:
    position = Keyset("2024-05-06T07:08:09.123Z", "at://did:plc:x/app.bsky.feed.post/3k__x")
    cursor = pack_cursor(position)
    assert cursor == "1714979289123__at://did:plc:x/app.bsky.feed.post/3k__x"
    assert unpack_cursor(cursor) == position
    assert unpack_cursor(None) is None and pack_cursor(None) is None
    for bad in ("abc", "123", "__x", "12a__x", "9" * 20 + "__x"):
        with pytest.raises(InvalidRequestError):
            unpack_cursor(bad)
    assert clearly_bad_cursor("1::2") and not clearly_bad_cursor(cursor)


def test_post_query_parser() -> None:
    assert parse_post_query("hello from:alice.test world") == ("hello world", "alice.test")
    assert parse_post_query(f"x {DID}", "bob.test") == ("x", DID)
    assert parse_post_query('"a from:b" c', None) == ('"a from:b" c', None)
    assert parse_post_query("  ", "bob.test") == ("", "bob.test")


def test_skeleton_parsing() -> None:
    body = (
        b'{"feed": [{"post": "at://did:plc:a/app.bsky.feed.post/1"}, {"post": 5}, "x",'
        b' {"post": "not a uri"}, {"post": "at://did:plc:a/app.bsky.feed.post/2",'
        b' "reason": {"$type": "app.bsky.feed.defs#skeletonReasonPin"}}], "cursor": "c1"}'
    )
    skeleton = _parse(body, 10, None)
    assert [i.post[-1] for i in skeleton.items] == ["1", "2"]
    assert skeleton.items[1].pinned and skeleton.cursor == "c1"
    assert _parse(body, 1, None).items[0].post.endswith("/1")
    assert _parse(body, 10, "c1").cursor is None  # an echoed cursor ends the feed
    assert _parse(b'{"feed": [], "cursor": "c2"}', 10, None).cursor is None
    for bad in (b"[]", b"{}", b"nope", b'{"feed": {}}'):
        with pytest.raises(UpstreamFailureError):
            _parse(bad, 10, None)


def test_image_paths_and_rendering() -> None:
    path = parse_image_path(f"avatar/plain/{DID}/{CID}@webp")
    assert (path.preset, path.did, path.cid, path.format) == ("avatar", DID, CID, "webp")
    assert parse_image_path(f"banner/plain/{DID}/{CID}").format == "jpeg"
    for bad in (
        f"avatar/{DID}/{CID}",
        f"avatar/plain/{DID}/{CID}/x",
        f"../plain/{DID}/{CID}",
        f"avatar/plain/{DID}/../../etc",
    ):
        with pytest.raises(BadImagePathError):
            parse_image_path(bad)
    out = io.BytesIO()
    Image.new("RGBA", (3000, 600), (0, 0, 0, 0)).save(out, "PNG")
    jpeg = render_image(out.getvalue(), PRESETS["feed_fullsize"], "jpeg")
    assert Image.open(io.BytesIO(jpeg)).size == (1000, 200)
    with pytest.raises(ValueError):
        render_image(b"\x89PNG but not really", PRESETS["avatar"], "jpeg")


def _item(n: int, author: str = "a") -> FeedItemRef:
    return FeedItemRef(
        f"at://did:plc:{author}/app.bsky.feed.post/{n:04d}", None, f"2024-01-01T00:00:{n:02d}.000Z"
    )


def test_timeline_merge_and_cache_use() -> None:
    pushed = [_item(5), _item(3), _item(1)]
    pulled = [_item(4, "b"), _item(3), _item(2, "b")]
    page = _merge(pushed, pulled, 3)
    assert [i.sort_at[-7:-5] for i in page.items] == ["05", "04", "03"]
    assert page.next == Keyset(page.items[-1].sort_at, page.items[-1].post)
    assert _merge(pushed, [], 5).next is None
    recent = [_item(n, "b") for n in (9, 8, 7)]
    found, missing = _from_cache(["did:plc:b", "did:plc:c"], {"did:plc:b": recent}, 2, None)
    assert [i.post[-1] for i in found] == ["9", "8"] and missing == ["did:plc:c"]
    after = Keyset(recent[0].sort_at, recent[0].post)
    found, missing = _from_cache(["did:plc:b"], {"did:plc:b": recent}, 5, after)
    assert len(found) == 2 and missing == []  # the cached list is complete (short)
    full = [_item(n % 60, "b") for n in range(RECENT_ITEMS)]
    found, missing = _from_cache(
        ["did:plc:b"], {"did:plc:b": full}, 5, Keyset("2000-01-01T00:00:00.000Z", "x")
    )
    assert found == [] and missing == ["did:plc:b"]  # past the cached items: read the database
