"""HttpClient and the SSRF-safe session against real loopback HTTP and DNS servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from sonet.net import (
    FetchError,
    HttpClient,
    HttpClientConfig,
    ResponseTooLargeError,
    SsrfError,
    SsrfSafeResolver,
    create_session,
    read_limited,
)
from sonet.net.dns import DnspythonResolver, create_dns_resolver
from sonet.net.ssrf import AddressPolicy
from tests.net.servers import DnsZone, serve_app, serve_dns

BIG = b"x" * 100_000


async def _ok(_: web.Request) -> web.Response:
    return web.Response(text="hello")


async def _big(_: web.Request) -> web.Response:
    return web.Response(body=BIG)


async def _stream(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse()  # chunked: no Content-Length
    await resp.prepare(request)
    for _ in range(100):
        await resp.write(b"y" * 1000)
    await resp.write_eof()
    return resp


async def _exact(_: web.Request) -> web.Response:
    return web.Response(body=b"z" * 1024)


async def _slow(_: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(text="late")


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.query["to"])


async def _loop(_: web.Request) -> web.Response:
    raise web.HTTPFound("/loop")


def _app() -> web.Application:
    app = web.Application()
    app.router.add_get("/ok", _ok)
    app.router.add_get("/big", _big)
    app.router.add_get("/stream", _stream)
    app.router.add_get("/exact", _exact)
    app.router.add_get("/slow", _slow)
    app.router.add_get("/redirect", _redirect)
    app.router.add_get("/loop", _loop)
    return app


@pytest.fixture
async def port() -> AsyncIterator[int]:
    async with serve_app(_app()) as p:
        yield p


@pytest.fixture
def zone() -> DnsZone:
    return DnsZone(
        {
            ("evil.test", "A"): ["127.0.0.1"],
            ("private.test", "A"): ["10.0.0.7"],
            ("mixed.test", "A"): ["8.8.8.8", "127.0.0.1"],
            ("mixed.test", "AAAA"): ["::1"],
            ("good.test", "A"): ["127.0.0.1"],
        }
    )


@pytest.fixture
async def dns_port(zone: DnsZone) -> AsyncIterator[int]:
    async with serve_dns(zone) as p:
        yield p


async def test_get_when_private_allowed(port: int) -> None:
    async with HttpClient(HttpClientConfig(allow_private=True)) as http:
        got = await http.get(f"http://127.0.0.1:{port}/ok", max_bytes=100)
    assert got.ok and got.status == 200
    assert got.body == b"hello"
    assert got.content_type == "text/plain"


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "localhost", "0.0.0.0"]
)
async def test_loopback_refused_by_default(port: int, host: str) -> None:
    async with HttpClient() as http:
        with pytest.raises(SsrfError):
            await http.get(f"http://{host}:{port}/ok", max_bytes=100)


async def test_raw_session_refuses_loopback_too(port: int) -> None:
    """The session itself (not only HttpClient's early check) refuses, literal or name."""
    async with create_session() as session:
        for url in (f"http://127.0.0.1:{port}/ok", f"http://localhost:{port}/ok"):
            with pytest.raises(SsrfError):
                await session.get(url)


async def test_hostname_resolving_to_loopback_refused(port: int, dns_port: int) -> None:
    config = HttpClientConfig(nameservers=("127.0.0.1",), dns_port=dns_port)
    async with HttpClient(config) as http:
        for name in ("evil.test", "private.test"):
            with pytest.raises(SsrfError, match="no public address"):
                await http.get(f"http://{name}:{port}/ok", max_bytes=100)


async def test_hostname_through_configured_dns_when_allowed(port: int, dns_port: int) -> None:
    config = HttpClientConfig(allow_private=True, nameservers=("127.0.0.1",), dns_port=dns_port)
    async with HttpClient(config) as http:
        got = await http.get(f"http://good.test:{port}/ok", max_bytes=100)
    assert got.body == b"hello"


async def test_resolver_drops_non_public_answers(dns_port: int) -> None:
    inner = DnspythonResolver(create_dns_resolver(["127.0.0.1"], dns_port, timeout=2))
    resolver = SsrfSafeResolver(inner, AddressPolicy())
    results = await resolver.resolve("mixed.test", 443, family=0)  # type: ignore[arg-type]
    assert [r["host"] for r in results] == ["8.8.8.8"]
    allowed = SsrfSafeResolver(inner, AddressPolicy(allow_private=True))
    hosts = {r["host"] for r in await allowed.resolve("mixed.test", 443, family=0)}  # type: ignore[arg-type]
    assert hosts == {"8.8.8.8", "127.0.0.1", "::1"}
    await resolver.close()


async def test_unknown_name_is_a_fetch_error(dns_port: int) -> None:
    config = HttpClientConfig(allow_private=True, nameservers=("127.0.0.1",), dns_port=dns_port)
    async with HttpClient(config) as http:
        with pytest.raises(FetchError):
            await http.get("http://nowhere.test/", max_bytes=100)


async def test_redirect_to_disallowed_literal_refused(port: int) -> None:
    config = HttpClientConfig(trusted_networks=("127.0.0.1/32",))
    async with HttpClient(config) as http:
        assert (await http.get(f"http://127.0.0.1:{port}/ok", max_bytes=100)).body == b"hello"
        for target in (f"http://127.0.0.2:{port}/ok", "http://169.254.169.254/latest/meta-data/"):
            with pytest.raises(SsrfError):
                await http.get(f"http://127.0.0.1:{port}/redirect?to={target}", max_bytes=100)


async def test_redirect_to_name_resolving_private_refused(port: int, dns_port: int) -> None:
    config = HttpClientConfig(
        trusted_networks=("127.0.0.1/32",), nameservers=("127.0.0.1",), dns_port=dns_port
    )
    async with HttpClient(config) as http:
        with pytest.raises(SsrfError):
            await http.get(
                f"http://127.0.0.1:{port}/redirect?to=http://private.test:{port}/ok", max_bytes=100
            )


async def test_redirect_to_other_scheme_refused(port: int) -> None:
    async with HttpClient(HttpClientConfig(allow_private=True)) as http:
        with pytest.raises((SsrfError, FetchError)):
            await http.get(f"http://127.0.0.1:{port}/redirect?to=file:///etc/passwd", max_bytes=10)


async def test_allowed_redirect_followed_and_final_url_reported(port: int) -> None:
    async with HttpClient(HttpClientConfig(allow_private=True)) as http:
        got = await http.get(f"http://127.0.0.1:{port}/redirect?to=/ok", max_bytes=100)
        assert got.body == b"hello" and got.url.endswith("/ok")
        unfollowed = await http.get(
            f"http://127.0.0.1:{port}/redirect?to=/ok", max_bytes=100, follow_redirects=False
        )
        assert unfollowed.status == 302


async def test_too_many_redirects(port: int) -> None:
    async with HttpClient(HttpClientConfig(allow_private=True, max_redirects=3)) as http:
        with pytest.raises(FetchError, match="TooManyRedirects"):
            await http.get(f"http://127.0.0.1:{port}/loop", max_bytes=100)


@pytest.mark.parametrize("path", ["/big", "/stream"])
async def test_response_too_large(port: int, path: str) -> None:
    async with HttpClient(HttpClientConfig(allow_private=True)) as http:
        with pytest.raises(ResponseTooLargeError) as info:
            await http.get(f"http://127.0.0.1:{port}{path}", max_bytes=10_000)
        assert info.value.limit == 10_000
        assert info.value.length == (len(BIG) if path == "/big" else None)
        # the client stays usable after a dropped connection
        assert (await http.get(f"http://127.0.0.1:{port}/ok", max_bytes=100)).body == b"hello"


async def test_limit_is_inclusive(port: int) -> None:
    async with HttpClient(HttpClientConfig(allow_private=True)) as http:
        got = await http.get(f"http://127.0.0.1:{port}/exact", max_bytes=1024)
        assert len(got.body) == 1024
        with pytest.raises(ResponseTooLargeError):
            await http.get(f"http://127.0.0.1:{port}/exact", max_bytes=1023)


async def test_read_limited_on_a_raw_session(port: int) -> None:
    async with (
        create_session(HttpClientConfig(allow_private=True)) as session,
        session.get(f"http://127.0.0.1:{port}/stream") as resp,
    ):
        with pytest.raises(ResponseTooLargeError):
            await read_limited(resp, 5_000)


async def test_per_call_timeout(port: int) -> None:
    async with HttpClient(HttpClientConfig(allow_private=True)) as http:
        with pytest.raises(FetchError):
            await http.get(f"http://127.0.0.1:{port}/slow", max_bytes=100, timeout=0.2)


async def test_session_total_timeout(port: int) -> None:
    async with HttpClient(HttpClientConfig(allow_private=True, total_timeout=0.2)) as http:
        with pytest.raises(FetchError):
            await http.get(f"http://127.0.0.1:{port}/slow", max_bytes=100)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "http://"])
async def test_bad_urls_are_refused_before_any_io(url: str) -> None:
    async with HttpClient() as http:
        with pytest.raises(SsrfError):
            await http.get(url, max_bytes=10)
        assert http._session is None


async def test_closed_client_reopens_lazily(port: int) -> None:
    http = HttpClient(HttpClientConfig(allow_private=True))
    await http.get(f"http://127.0.0.1:{port}/ok", max_bytes=100)
    await http.close()
    await http.get(f"http://127.0.0.1:{port}/ok", max_bytes=100)
    await http.close()
