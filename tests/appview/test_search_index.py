"""The tantivy search index: replace/delete, filters, order, pagination, typeahead, bad input,
read-only opening beside the writer, ``latest`` through time windows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sonet.appview.search.documents import ActorDocument, PostDocument
from sonet.appview.search.index import SearchIndex, word_prefixes
from sonet.appview.search.query import (
    HITS_TRACKED,
    MAX_OFFSET,
    SearchPage,
    SearchQueryError,
    search_actors,
    search_posts,
)


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[SearchIndex]:
    idx = SearchIndex(tmp_path / "search", commit_interval=60)
    yield idx
    await idx.close()


def post(n: int, text: str, **kw: object) -> PostDocument:
    defaults: dict[str, object] = {
        "uri": f"at://did:plc:a{n % 3}/app.bsky.feed.post/{n:013d}",
        "author": f"did:plc:a{n % 3}",
        "text": text,
        "created_at": f"2025-01-{n % 28 + 1:02d}T12:00:00.000Z",
    }
    defaults.update(kw)
    return PostDocument(**defaults)  # type: ignore[arg-type]


async def test_posts_filters_order_and_pages(index: SearchIndex) -> None:
    docs = [post(n, f"python sonet number {n}") for n in range(1, 21)]
    docs.append(post(21, "rust is fine", langs=("ja",), tags=("rust",), domains=("example.com",)))
    docs.append(post(22, "mention", mentions=("did:plc:zed",), created_at="2025-02-01T00:00:00Z"))
    await index.apply({d.uri: d for d in docs}, {})
    await index.commit()
    assert index.post_count() == 22

    latest = search_posts(index, "python", sort="latest", limit=5)
    assert latest.hits_total == 20
    assert latest.items[0] == docs[19].uri  # newest first (day 21)
    seen = list(latest.items)
    cursor = latest.cursor
    while cursor is not None:
        page = search_posts(index, "python", sort="latest", limit=5, cursor=cursor)
        seen += page.items
        cursor = page.cursor
    assert sorted(seen) == sorted(d.uri for d in docs[:20])

    assert search_posts(index, "*", lang="JA").items == [docs[20].uri]
    assert search_posts(index, "*", tag=["#Rust"]).items == [docs[20].uri]
    assert search_posts(index, "*", domain="www.example.com").items == [docs[20].uri]
    assert search_posts(index, "*", mentions="did:plc:zed").items == [docs[21].uri]
    by_author = search_posts(index, "python", author="did:plc:a1", limit=100)
    assert by_author.hits_total == 7
    window = search_posts(
        index, "python", since="2025-01-05T00:00:00Z", until="2025-01-07T00:00:00Z", limit=100
    )
    assert sorted(window.items) == sorted(
        d.uri for d in docs[:20] if d.created_at[8:10] in ("05", "06")
    )
    assert search_posts(index, '"number 7"', sort="top").items == [docs[6].uri]
    assert search_posts(index, "nothing-matches-this").items == []


async def test_replace_and_delete(index: SearchIndex) -> None:
    first = post(1, "old words")
    await index.apply({first.uri: first}, {})
    await index.apply({first.uri: post(1, "new words")}, {})
    await index.commit()
    assert search_posts(index, "old").items == []
    assert search_posts(index, "new").items == [first.uri]
    await index.apply({first.uri: None}, {})
    await index.commit()
    assert search_posts(index, "words").items == []
    assert index.post_count() == 0


async def test_actors_and_typeahead(index: SearchIndex) -> None:
    actors = {
        "did:plc:alice": ActorDocument(
            "did:plc:alice", "alice.bsky.social", "Alice Liddell", "curious"
        ),
        "did:plc:alfred": ActorDocument("did:plc:alfred", "alfred.test", "Alfred", "butler"),
        "did:plc:bob": ActorDocument("did:plc:bob", None, "Bob", "builds things"),
    }
    await index.apply({}, actors)
    await index.commit()
    assert sorted(search_actors(index, "al", typeahead=True).items) == [
        "did:plc:alfred",
        "did:plc:alice",
    ]
    assert search_actors(index, "alice.bs", typeahead=True).items == ["did:plc:alice"]
    assert search_actors(index, "ali lid", typeahead=True).items == ["did:plc:alice"]
    assert search_actors(index, "", typeahead=True).items == []
    assert search_actors(index, "butler").items == ["did:plc:alfred"]
    assert search_actors(index, "bob").items == ["did:plc:bob"]
    await index.apply({}, {"did:plc:bob": None})
    await index.commit()
    assert search_actors(index, "bob").items == []


async def test_bad_input_never_panics(index: SearchIndex) -> None:
    await index.apply({"at://x/app.bsky.feed.post/1": post(1, "text")}, {})
    await index.commit()
    assert search_posts(index, "text", limit=0).items  # limit is clamped to at least 1
    for q in ('"unclosed', "AND OR NOT", "text:(", "((((", "a" * 5000, "created_at:[1 TO"):
        search_posts(index, q)
        search_actors(index, q)
    with pytest.raises(SearchQueryError):
        search_posts(index, "text", cursor="-1")
    with pytest.raises(SearchQueryError):
        search_posts(index, "text", cursor="99999999")
    with pytest.raises(SearchQueryError):
        search_posts(index, "text", since="yesterday")


def test_word_prefixes() -> None:
    got = word_prefixes("bo.b", "Bé Z")
    assert {"b", "bo", "bo.", "bo.b", "bé", "z"} <= got
    assert word_prefixes(None, "") == set()


async def test_reopen_keeps_documents(tmp_path: Path) -> None:
    idx = SearchIndex(tmp_path / "s")
    doc = post(1, "persisted")
    await idx.apply({doc.uri: doc}, {})
    await idx.close()
    again = SearchIndex(tmp_path / "s")
    assert search_posts(again, "persisted").items == [doc.uri]
    await again.close()


async def test_read_only_index_follows_the_writers_commits(
    index: SearchIndex, tmp_path: Path
) -> None:
    """A read worker's index opens beside the writer (no lock taken), sees what the writer
    commits on its own, and refuses to write."""
    reader = SearchIndex(tmp_path / "search", read_only=True)
    assert reader.post_count() == 0
    await index.apply({post(1, "hello").uri: post(1, "hello")}, {})
    await index.commit()
    deadline = time.monotonic() + 10
    while reader.post_count() == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert search_posts(reader, "hello").items == [post(1, "hello").uri]
    with pytest.raises(RuntimeError, match="read-only"):
        await reader.apply({post(2, "no").uri: post(2, "no")}, {})
    await reader.close()


async def test_latest_through_time_windows_matches_a_full_search(index: SearchIndex) -> None:
    """``latest`` on a large index searches the newest hours first: the page is the one a
    search of everything gives, and ``hitsTotal`` counts the window once it holds
    HITS_TRACKED matches (a truncated count, as the lexicon allows)."""
    now = time.time()
    recent = HITS_TRACKED + 500

    def at(seconds_ago: float) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - seconds_ago))
        return f"{stamp}.{int((now - seconds_ago) % 1 * 1000):03d}Z"

    docs = [post(n, "fresh words", created_at=at(n * 0.2)) for n in range(recent)]
    docs += [post(recent + n, "old words", created_at=at(86400 * 3 + n)) for n in range(300)]
    await index.apply({d.uri: d for d in docs}, {})
    await index.commit()

    def both(q: str, **kw: Any) -> tuple[SearchPage, SearchPage]:
        windowed = search_posts(index, q, windows_from=0, **kw)
        whole = search_posts(index, q, windows_from=10**9, **kw)
        return windowed, whole

    windowed, whole = both("words", limit=25)
    assert windowed.items == whole.items == [d.uri for d in docs[:25]]
    assert (windowed.hits_total, whole.hits_total) == (recent, recent + 300)
    windowed, whole = both("words", limit=25, cursor=str(MAX_OFFSET - 25))
    assert windowed.items == whole.items and windowed.cursor == whole.cursor
    # too few matches in every window: everything is searched, and counted
    windowed, whole = both("old", limit=10)
    assert windowed == whole and windowed.hits_total == 300
    windowed, whole = both("words", limit=5, until=at(86400 * 3 + 10))
    assert windowed == whole and windowed.items == [d.uri for d in docs[recent + 11 :][:5]]
