"""The relay's public XRPC endpoints.

https://atproto.com/specs/sync: ``requestCrawl``, ``listHosts``, ``getHostStatus``,
``listRepos``, ``getRepoStatus``, ``getLatestCommit``, ``getRepo`` (a redirect to the account's
PDS) and ``subscribeRepos``. Error names and statuses follow the reference relay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web
from yarl import URL

from sonet.lexicons import LexiconValidationError, parse_params
from sonet.relay.accounts import Account, account_from_row
from sonet.relay.errors import RelayError
from sonet.relay.relay import Relay
from sonet.relay.status import AccountStatus
from sonet.storage.relay_host_store import HostRow
from sonet.sync.identities import IdentityUnavailableError
from sonet.xrpc import HandlerContext, InvalidRequestError, XRPCError, XrpcRouter
from sonet.xrpc.responses import error_response

__all__ = ["SUBSCRIBE_REPOS", "register", "subscribe_repos_route"]

SUBSCRIBE_REPOS: Final = "com.atproto.sync.subscribeRepos"
_INACTIVE_ERRORS: Final = {
    AccountStatus.TAKENDOWN: ("RepoTakendown", "account not active (takendown)"),
    AccountStatus.SUSPENDED: ("RepoTakendown", "account not active (takendown)"),
    AccountStatus.DEACTIVATED: ("RepoDeactivated", "account not active (deactivated)"),
    AccountStatus.DELETED: ("RepoDeleted", "account not active (deleted)"),
}


def _xrpc_error(exc: RelayError) -> XRPCError:
    return XRPCError(exc.status, exc.error, exc.message)


def _int_cursor(raw: object) -> int:
    if raw is None:
        return 0
    if isinstance(raw, str) and raw.isdigit():
        return int(raw)
    raise InvalidRequestError("cursor must be a non-negative integer")


def _host_view(relay: Relay, host: HostRow) -> dict[str, Any]:
    subscription = relay.slurper.subscriptions.get(host.hostname)
    seq = host.last_seq if subscription is None else subscription.context.processed_seq
    return {
        "hostname": host.hostname,
        "seq": max(seq, host.last_seq),
        "accountCount": host.account_count,
        "status": host.status,
    }


async def _account(relay: Relay, did: str) -> Account:
    account = await relay.get_account(did)
    if account is None:
        raise XRPCError(404, "RepoNotFound", "account not found")
    return account


def register(router: XrpcRouter, relay: Relay) -> None:
    """Add the relay's query and procedure handlers to ``router``."""

    async def request_crawl(ctx: HandlerContext[Any]) -> None:
        assert ctx.input is not None
        try:
            await relay.hosts.request_crawl(ctx.input.body["hostname"])
        except RelayError as exc:
            raise _xrpc_error(exc) from None

    async def list_hosts(ctx: HandlerContext[Any]) -> Mapping[str, Any]:
        limit = ctx.params["limit"]
        hosts = await relay.hosts.page(_int_cursor(ctx.params.get("cursor")), limit)
        out: dict[str, Any] = {"hosts": [_host_view(relay, h) for h in hosts]}
        if len(hosts) >= limit:
            out["cursor"] = str(hosts[-1].id)
        return out

    async def get_host_status(ctx: HandlerContext[Any]) -> Mapping[str, Any]:
        host = await relay.hosts.get(ctx.params["hostname"])
        if host is None:
            raise XRPCError(404, "HostNotFound", "host not found")
        return _host_view(relay, host)

    async def list_repos(ctx: HandlerContext[Any]) -> Mapping[str, Any]:
        limit = ctx.params["limit"]
        async with relay.db.read() as conn:
            rows = await relay.account_store.list_with_repo(
                conn, _int_cursor(ctx.params.get("cursor")), limit
            )
        repos = []
        for row in rows:
            account = relay.accounts.cached(row.did) or account_from_row(row)
            repo = account.repo
            if repo is None:
                continue
            view: dict[str, Any] = {
                "did": account.did,
                "head": repo.commit.encode(),
                "rev": repo.rev,
                "active": account.active,
            }
            if account.public_status is not None:
                view["status"] = account.public_status
            repos.append(view)
        out: dict[str, Any] = {"repos": repos}
        if len(rows) >= limit:
            out["cursor"] = str(rows[-1].uid)
        return out

    async def get_repo_status(ctx: HandlerContext[Any]) -> Mapping[str, Any]:
        account = await _account(relay, ctx.params["did"])
        out: dict[str, Any] = {"did": account.did, "active": account.active}
        if account.public_status is not None:
            out["status"] = account.public_status
        if account.repo is not None:
            out["rev"] = account.repo.rev
        return out

    async def get_latest_commit(ctx: HandlerContext[Any]) -> Mapping[str, Any]:
        account = await _account(relay, ctx.params["did"])
        status = account.effective_status
        if status != AccountStatus.ACTIVE:
            error, message = _INACTIVE_ERRORS.get(
                AccountStatus(status), ("RepoInactive", f"account not active: {status}")
            )
            raise XRPCError(403, error, message)
        if account.repo is None:
            raise XRPCError(404, "RepoNotSynchronized", "do not know current repo state")
        return {"cid": account.repo.commit.encode(), "rev": account.repo.rev}

    async def get_repo(ctx: HandlerContext[Any]) -> web.StreamResponse:
        did = ctx.params["did"]
        try:
            identity = await relay.identities.lookup(did)
        except IdentityUnavailableError as exc:
            raise XRPCError(404, "RepoNotFound", f"could not resolve DID: {exc}") from None
        if identity.pds_endpoint is None or identity.pds_host is None:
            raise XRPCError(404, "RepoNotFound", "DID document has no valid atproto PDS endpoint")
        target = URL(identity.pds_endpoint).with_path(ctx.request.path)
        target = target.with_query(ctx.request.query)
        return web.Response(status=302, headers={"Location": str(target)})

    router.procedure("com.atproto.sync.requestCrawl", request_crawl)
    router.query("com.atproto.sync.listHosts", list_hosts)
    router.query("com.atproto.sync.getHostStatus", get_host_status)
    router.query("com.atproto.sync.listRepos", list_repos)
    router.query("com.atproto.sync.getRepoStatus", get_repo_status)
    router.query("com.atproto.sync.getLatestCommit", get_latest_commit)
    router.query("com.atproto.sync.getRepo", get_repo)


def subscribe_repos_route(app: web.Application, router: XrpcRouter, relay: Relay) -> None:
    """Serve ``subscribeRepos`` straight from the relay's broadcaster (register before
    ``router.install``, which adds the generic ``/xrpc/{nsid}`` route)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.method != "GET":
            message = f"Incorrect HTTP method ({request.method}) expected GET"
            return error_response(InvalidRequestError(message), None)
        if not web.WebSocketResponse().can_prepare(request).ok:
            message = f"{SUBSCRIBE_REPOS} is a subscription: a WebSocket is expected"
            return error_response(InvalidRequestError(message), None)
        try:
            params = parse_params(router.lexicons, SUBSCRIBE_REPOS, request.query)
        except LexiconValidationError as exc:
            return error_response(InvalidRequestError(str(exc)), None)
        cursor = params.get("cursor")
        if cursor is not None and cursor < 0:
            return error_response(InvalidRequestError("cursor must not be negative"), None)
        return await relay.broadcaster.serve(request, cursor)

    app.router.add_route("*", f"/xrpc/{SUBSCRIBE_REPOS}", handler)
