"""The relay's admin endpoints, under ``/admin/`` with HTTP Basic ``admin:<password>``.

Paths, parameters and answers follow the reference relay's admin API (bluesky-social/indigo
``cmd/relay``, "off-protocol" endpoints) so its tooling works: host list, add (requestCrawl),
block/unblock, limits, upstream connections, domain bans, account takedowns, consumers; plus
``/admin/stats`` with Sonet's per-host counters of received, accepted and dropped events.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from sonet.relay.errors import RelayError
from sonet.relay.relay import Relay
from sonet.syntax.did import is_valid_did
from sonet.xrpc.auth import basic_credentials

__all__ = ["add_admin_routes"]

_OK: Final = {"success": "true"}
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str, error: str | None = None) -> web.Response:
    return web.json_response(
        {"error": error or "InvalidRequest", "message": message}, status=status
    )


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise RelayError(400, "InvalidRequest", "body must be a JSON object") from None
    if not isinstance(body, dict):
        raise RelayError(400, "InvalidRequest", "body must be a JSON object")
    return body


def add_admin_routes(app: web.Application, relay: Relay, password: str | None) -> None:
    """Register the admin routes (each refuses every call when no password is configured)."""

    def admin(handler: _Handler) -> _Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            credentials = basic_credentials(request)
            if not password or credentials is None or credentials[0] != "admin":
                return _error(401, "admin authentication required", "AuthenticationRequired")
            if not hmac.compare_digest(credentials[1].encode(), password.encode()):
                return _error(401, "admin authentication required", "AuthenticationRequired")
            try:
                return await handler(request)
            except RelayError as exc:
                return _error(exc.status, exc.message, exc.error)

        return guarded

    async def list_hosts(_request: web.Request) -> web.StreamResponse:
        hosts = await relay.hosts.page(0, 10_000, ever_active=False)
        out = []
        for host in hosts:
            subscription = relay.slurper.subscriptions.get(host.hostname)
            quotas = subscription.limiter.quotas if subscription is not None else None
            out.append(
                {
                    "ID": host.id,
                    "Host": host.hostname,
                    "SSL": not host.no_ssl,
                    "Cursor": host.last_seq,
                    "Registered": host.status == "active",
                    "Blocked": host.status == "banned",
                    "Status": host.status,
                    "Trusted": host.trusted,
                    "RepoCount": host.account_count,
                    "RepoLimit": host.account_limit,
                    "UserCount": host.account_count,
                    "HasActiveConnection": subscription is not None and subscription.connected,
                    "PerSecondEventRate": {"Max": quotas.per_second if quotas else -1, "Window": 1},
                    "PerHourEventRate": {"Max": quotas.per_hour if quotas else -1, "Window": 3600},
                    "PerDayEventRate": {"Max": quotas.per_day if quotas else -1, "Window": 86400},
                    "Stats": relay.stats.summary(host.hostname),
                }
            )
        return web.json_response(out)

    async def add_host(request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        hostname = body.get("hostname")
        if not isinstance(hostname, str):
            return _error(400, "hostname is required")
        await relay.hosts.request_crawl(hostname, admin=True)
        return web.json_response(_OK)

    async def block_host(request: web.Request) -> web.StreamResponse:
        await relay.hosts.block(request.query.get("host", "").strip())
        return web.json_response(_OK)

    async def unblock_host(request: web.Request) -> web.StreamResponse:
        await relay.hosts.unblock(request.query.get("host", "").strip())
        return web.json_response(_OK)

    async def change_limits(request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        host, limit = body.get("host"), body.get("repo_limit")
        if not isinstance(host, str) or not isinstance(limit, int) or isinstance(limit, bool):
            return _error(400, "host and repo_limit are required")
        await relay.hosts.change_account_limit(host, limit)
        return web.json_response(_OK)

    async def upstream_conns(_request: web.Request) -> web.StreamResponse:
        return web.json_response(sorted(relay.slurper.subscriptions))

    async def kill_upstream(request: web.Request) -> web.StreamResponse:
        ban = request.query.get("block", "").lower() == "true"
        await relay.hosts.kill_connection(request.query.get("host", "").strip(), ban=ban)
        return web.json_response(_OK)

    async def get_enabled(_request: web.Request) -> web.StreamResponse:
        return web.json_response({"enabled": relay.hosts.request_crawl_enabled})

    async def set_enabled(request: web.Request) -> web.StreamResponse:
        value = request.query.get("enabled", "").lower()
        if value not in ("true", "false", "1", "0"):
            return _error(400, "enabled must be true or false")
        relay.hosts.request_crawl_enabled = value in ("true", "1")
        return web.json_response(_OK)

    async def get_per_day(_request: web.Request) -> web.StreamResponse:
        return web.json_response({"limit": relay.hosts.new_hosts.limit})

    async def set_per_day(request: web.Request) -> web.StreamResponse:
        raw = request.query.get("limit", "")
        if not raw.isdigit():
            return _error(400, "limit must be a non-negative integer")
        relay.hosts.new_hosts.limit = int(raw)
        return web.json_response(_OK)

    async def list_domain_bans(_request: web.Request) -> web.StreamResponse:
        return web.json_response({"banned_domains": await relay.hosts.banned_domains()})

    async def ban_domain(request: web.Request) -> web.StreamResponse:
        domain = (await _json_body(request)).get("Domain")
        if not isinstance(domain, str) or not domain.strip():
            return _error(400, "Domain is required")
        await relay.hosts.ban_domain(domain)
        return web.json_response(_OK)

    async def unban_domain(request: web.Request) -> web.StreamResponse:
        domain = (await _json_body(request)).get("Domain")
        if not isinstance(domain, str) or not domain.strip():
            return _error(400, "Domain is required")
        await relay.hosts.unban_domain(domain)
        return web.json_response(_OK)

    async def takedowns(request: web.Request) -> web.StreamResponse:
        raw = request.query.get("cursor", "0")
        if not raw.isdigit():
            return _error(400, "invalid cursor param")
        return web.json_response({"dids": await relay.list_takedowns(int(raw))})

    def takedown_handler(reverse: bool) -> _Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            did = (await _json_body(request)).get("did")
            if not isinstance(did, str) or not is_valid_did(did):
                return _error(400, "must specify a DID in the body")
            await relay.takedown(did, reverse=reverse)
            return web.json_response(_OK)

        return handler

    async def consumers(_request: web.Request) -> web.StreamResponse:
        return web.json_response(
            [
                {
                    "id": c.id,
                    "remote_addr": c.remote_addr,
                    "user_agent": c.user_agent,
                    "events_consumed": c.events_sent,
                    "connected_at": c.connected_at,
                }
                for c in relay.broadcaster.consumers.values()
            ]
        )

    async def stats(_request: web.Request) -> web.StreamResponse:
        hosts = {host for host, _ in relay.stats.received} | {h for h, _ in relay.stats.dropped}
        return web.json_response(
            {
                "seq": relay.broadcaster.latest,
                "consumers": len(relay.broadcaster.consumers),
                "slowConsumersDropped": relay.broadcaster.dropped_slow,
                "hosts": {host: relay.stats.summary(host) for host in sorted(hosts)},
            }
        )

    routes: list[tuple[str, str, _Handler]] = [
        ("GET", "/admin/pds/list", list_hosts),
        ("POST", "/admin/pds/requestCrawl", add_host),
        ("POST", "/admin/pds/changeLimits", change_limits),
        ("POST", "/admin/pds/block", block_host),
        ("POST", "/admin/pds/unblock", unblock_host),
        ("GET", "/admin/subs/getUpstreamConns", upstream_conns),
        ("POST", "/admin/subs/killUpstream", kill_upstream),
        ("GET", "/admin/subs/getEnabled", get_enabled),
        ("POST", "/admin/subs/setEnabled", set_enabled),
        ("GET", "/admin/subs/perDayLimit", get_per_day),
        ("POST", "/admin/subs/setPerDayLimit", set_per_day),
        ("GET", "/admin/subs/listDomainBans", list_domain_bans),
        ("POST", "/admin/subs/banDomain", ban_domain),
        ("POST", "/admin/subs/unbanDomain", unban_domain),
        ("GET", "/admin/repo/takedowns", takedowns),
        ("POST", "/admin/repo/takeDown", takedown_handler(False)),
        ("POST", "/admin/repo/reverseTakedown", takedown_handler(True)),
        ("GET", "/admin/consumers/list", consumers),
        ("GET", "/admin/stats", stats),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, admin(handler))
