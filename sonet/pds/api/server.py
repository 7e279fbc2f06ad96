"""The ``com.atproto.server.*`` area: signup, sessions, app passwords, account status, email
flows, invite codes and service auth (https://atproto.com/specs/xrpc, https://atproto.com/specs/account).

Auth requirements, rate limits, error names and statuses follow the reference PDS.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from sonet.identity.errors import IdentityError
from sonet.net.errors import NetError
from sonet.pds.accounts import email_flows, lifecycle
from sonet.pds.accounts.auth import AccountAuth
from sonet.pds.accounts.creation import NewAccount, create_account
from sonet.pds.accounts.did_checks import is_valid_did_for_service
from sonet.pds.accounts.errors import AccountAuthError, AccountError
from sonet.pds.accounts.json_body import json_body
from sonet.pds.accounts.login import check_auth_factor, login
from sonet.pds.accounts.passwords import OLD_PASSWORD_MAX_LENGTH, verify_password
from sonet.pds.accounts.service import AccountService, account_service, setup_account_service
from sonet.pds.accounts.service_auth import check_service_auth_request
from sonet.pds.accounts.times import from_datetime, to_datetime
from sonet.pds.accounts.views import session_view
from sonet.pds.context import PdsContext
from sonet.storage.pds_account_store import AccountRow
from sonet.storage.pds_repo_stats import count_repo_blocks
from sonet.xrpc.auth import AccessCredentials, RefreshCredentials, ServiceCredentials
from sonet.xrpc.context import Handler, HandlerContext
from sonet.xrpc.errors import AuthRequiredError, InvalidRequestError
from sonet.xrpc.ratelimit import RateLimit, RateLimiter, account_key, ip_key
from sonet.xrpc.router import XrpcRouter
from sonet.xrpc.service_jwt import create_service_jwt
from sonet.xrpc.tokens import ACCESS_FULL, ACCESS_STANDARD, AuthScope

__all__ = ["register", "setup"]

NS = "com.atproto.server."
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0


async def setup(ctx: PdsContext) -> None:
    """Build the accounts service (migrations, rotation key, mailer)."""
    await setup_account_service(ctx)


def _login_key(ctx: HandlerContext[Any]) -> str | None:
    """Login attempts count per identifier and client IP (the reference's key)."""
    body = ctx.input.body if ctx.input is not None else None
    identifier = body.get("identifier") if isinstance(body, dict) else None
    return f"{str(identifier).lower()}-{ip_key(ctx)}"


def _limits(name: str, *rules: tuple[int, float]) -> list[RateLimit]:
    return [
        RateLimit(f"{name}-{i}", points, duration) for i, (points, duration) in enumerate(rules)
    ]


def _per_account(name: str, *rules: tuple[int, float]) -> list[RateLimit]:
    return [
        RateLimit(f"{name}-{i}", points, duration, key=account_key)
        for i, (points, duration) in enumerate(rules)
    ]


async def _did_doc(ctx: PdsContext, did: str) -> dict[str, Any] | None:
    """The account's DID document for a session response (``None`` if it does not resolve)."""
    try:
        return dict(await ctx.did_resolver.resolve(did))
    except (IdentityError, NetError, aiohttp.ClientError, TimeoutError, OSError):
        return None


async def _account(ctx: PdsContext, did: str) -> AccountRow:
    account = await ctx.accounts.get(did)
    if account is None:
        raise AccountError(f"Could not find user info for account: {did}")
    return account


def register(router: XrpcRouter, ctx: PdsContext) -> None:
    """Serve the ``com.atproto.server.*`` methods."""
    service = account_service(ctx)
    auth = AccountAuth(ctx.auth, ctx.accounts)
    login_limiter = RateLimiter(
        router.rate_limit_backend,
        [
            RateLimit("createSession-day", 300, DAY, key=_login_key),
            RateLimit("createSession-5min", 30, 5 * MINUTE, key=_login_key),
        ],
    )
    standard = auth.access()
    full = auth.access(ACCESS_FULL)
    full_live = auth.access(ACCESS_FULL, check_takedown=True)
    email_manage = auth.access(check_takedown=True)
    mail_limits = (15, DAY), (5, HOUR)
    h = _ServerHandlers(ctx, service, login_limiter)

    def query(name: str, handler: Handler[Any], **options: Any) -> None:
        router.query(NS + name, handler, **options)

    def procedure(name: str, handler: Handler[Any], **options: Any) -> None:
        router.procedure(NS + name, handler, **options)

    query("describeServer", h.describe_server)
    procedure(
        "createAccount",
        h.create_account,
        auth=ctx.auth.optional(ctx.auth.service()),
        rate_limits=_limits("createAccount", (100, 5 * MINUTE)),
    )
    procedure("createSession", h.create_session)
    procedure("refreshSession", h.refresh_session, auth=ctx.auth.refresh())
    query(
        "getSession", h.get_session, auth=auth.access((*ACCESS_STANDARD, AuthScope.SIGNUP_QUEUED))
    )
    procedure("deleteSession", h.delete_session, auth=ctx.auth.refresh(allow_expired=True))
    procedure("createAppPassword", h.create_app_password, auth=full_live)
    query("listAppPasswords", h.list_app_passwords, auth=standard)
    procedure("revokeAppPassword", h.revoke_app_password, auth=standard)
    procedure("activateAccount", h.activate_account, auth=full)
    procedure(
        "deactivateAccount",
        h.deactivate_account,
        auth=auth.access((*ACCESS_FULL, AuthScope.TAKENDOWN)),
    )
    query("checkAccountStatus", h.check_account_status, auth=standard)
    procedure(
        "requestAccountDelete",
        h.request_account_delete,
        auth=full_live,
        rate_limits=_per_account("requestAccountDelete", *mail_limits),
    )
    procedure(
        "deleteAccount", h.delete_account, rate_limits=_limits("deleteAccount", (50, 5 * MINUTE))
    )
    procedure(
        "requestEmailConfirmation",
        h.request_email_confirmation,
        auth=email_manage,
        rate_limits=_per_account("requestEmailConfirmation", *mail_limits),
    )
    procedure("confirmEmail", h.confirm_email, auth=email_manage)
    procedure(
        "requestEmailUpdate",
        h.request_email_update,
        auth=full_live,
        rate_limits=_per_account("requestEmailUpdate", *mail_limits),
    )
    procedure("updateEmail", h.update_email, auth=full_live)
    procedure(
        "requestPasswordReset",
        h.request_password_reset,
        rate_limits=_limits("requestPasswordReset", (50, DAY), (15, HOUR)),
    )
    procedure(
        "resetPassword", h.reset_password, rate_limits=_limits("resetPassword", (50, 5 * MINUTE))
    )
    procedure("createInviteCode", h.create_invite_code, auth=ctx.auth.admin())
    procedure("createInviteCodes", h.create_invite_codes, auth=ctx.auth.admin())
    query("getAccountInviteCodes", h.get_account_invite_codes, auth=full_live)
    query(
        "getServiceAuth",
        h.get_service_auth,
        auth=auth.access((*ACCESS_STANDARD, AuthScope.TAKENDOWN)),
    )


class _ServerHandlers:
    """The handlers, sharing the PDS context and the accounts service."""

    def __init__(
        self, ctx: PdsContext, service: AccountService, login_limiter: RateLimiter
    ) -> None:
        self.ctx = ctx
        self.service = service
        self.login_limiter = login_limiter

    # signup and sessions

    async def describe_server(self, _hc: HandlerContext[None]) -> dict[str, Any]:
        config = self.ctx.config
        return {
            "did": config.service_did,
            "availableUserDomains": list(config.user_domains),
            "inviteCodeRequired": config.invite_required,
            "blobUploadLimit": config.blob_upload_limit,
            "links": {},
            "contact": {},
        }

    async def create_account(self, hc: HandlerContext[ServiceCredentials | None]) -> dict[str, Any]:
        body = json_body(hc)
        requester = hc.auth.did if hc.auth is not None else None
        new = NewAccount(
            handle=body["handle"],
            email=body.get("email"),
            password=body.get("password"),
            invite_code=body.get("inviteCode"),
            did=body.get("did"),
            recovery_key=body.get("recoveryKey"),
            plc_op=body.get("plcOp"),
        )
        created = await create_account(self.service, new, requester)
        out: dict[str, Any] = {
            "handle": created.handle,
            "did": created.did,
            "accessJwt": created.session.access_jwt,
            "refreshJwt": created.session.refresh_jwt,
        }
        if created.did_doc is not None:
            out["didDoc"] = created.did_doc
        return out

    async def create_session(self, hc: HandlerContext[None]) -> dict[str, Any]:
        await self.login_limiter.check(hc)
        body = json_body(hc)
        password = body["password"]
        if len(password) > OLD_PASSWORD_MAX_LENGTH:
            raise AuthRequiredError("Password too long. Consider resetting your password.")
        result = await login(self.service, body["identifier"], password)
        if result.takendown and not body.get("allowTakendown"):
            raise AuthRequiredError("Account has been taken down", "AccountTakedown")
        await check_auth_factor(self.service, result, body.get("authFactorToken"))
        did = result.account.did
        tokens = await self.service.sessions.open(
            did, result.app_password, takendown=result.takendown
        )
        return session_view(result.account, await _did_doc(self.ctx, did), tokens)

    async def refresh_session(self, hc: HandlerContext[RefreshCredentials]) -> dict[str, Any]:
        account = await _account(self.ctx, hc.auth.did)
        if account.status in ("takendown", "suspended"):
            raise AuthRequiredError("Account has been taken down", "AccountTakedown")
        rotated = await self.service.sessions.rotate(hc.auth.token_id)
        if rotated is None:
            raise InvalidRequestError("Token has been revoked", "ExpiredToken")
        return session_view(account, await _did_doc(self.ctx, account.did), rotated)

    async def get_session(self, hc: HandlerContext[AccessCredentials]) -> dict[str, Any]:
        account = await _account(self.ctx, hc.auth.did)
        return session_view(account, await _did_doc(self.ctx, account.did))

    async def delete_session(self, hc: HandlerContext[RefreshCredentials]) -> None:
        await self.service.sessions.revoke(hc.auth.token_id)

    # app passwords

    async def create_app_password(self, hc: HandlerContext[AccessCredentials]) -> dict[str, Any]:
        body = json_body(hc)
        privileged = bool(body.get("privileged", False))
        row, password = await self.service.app_passwords.create(
            hc.auth.did, body["name"], privileged
        )
        return {
            "name": row.name,
            "password": password,
            "createdAt": to_datetime(row.created_at),
            "privileged": row.privileged,
        }

    async def list_app_passwords(self, hc: HandlerContext[AccessCredentials]) -> dict[str, Any]:
        rows = await self.service.app_passwords.list(hc.auth.did)
        return {
            "passwords": [
                {"name": r.name, "createdAt": to_datetime(r.created_at), "privileged": r.privileged}
                for r in rows
            ]
        }

    async def revoke_app_password(self, hc: HandlerContext[AccessCredentials]) -> None:
        await self.service.app_passwords.revoke(hc.auth.did, json_body(hc)["name"])

    # account status

    async def activate_account(self, hc: HandlerContext[AccessCredentials]) -> None:
        await lifecycle.activate_account(self.service, hc.auth.did)

    async def deactivate_account(self, hc: HandlerContext[AccessCredentials]) -> None:
        delete_after = json_body(hc).get("deleteAfter")
        try:
            when = from_datetime(delete_after) if delete_after else None
        except ValueError:
            raise AccountError("deleteAfter is not a usable datetime") from None
        await lifecycle.deactivate_account(self.service, hc.auth.did, when)

    async def check_account_status(self, hc: HandlerContext[AccessCredentials]) -> dict[str, Any]:
        did = hc.auth.did
        ctx = self.ctx
        account = await _account(ctx, did)
        head = await ctx.repos.head(did)
        async with ctx.db.read() as conn:
            blocks = await count_repo_blocks(conn, did)
            records = await ctx.repos.store.record_count(conn, did)
        expected, imported = (0, 0)
        if self.service.blob_counts is not None:
            expected, imported = await self.service.blob_counts(did)
        return {
            "activated": account.deactivated_at is None,
            "validDid": await is_valid_did_for_service(self.service, did),
            "repoCommit": head.commit_cid.encode(),
            "repoRev": head.rev,
            "repoBlocks": blocks,
            "indexedRecords": records,
            "privateStateValues": 0,
            "expectedBlobs": expected,
            "importedBlobs": imported,
        }

    async def request_account_delete(self, hc: HandlerContext[AccessCredentials]) -> None:
        await email_flows.mail_token(self.service, hc.auth.did, "delete_account")

    async def delete_account(self, hc: HandlerContext[None]) -> None:
        body = json_body(hc)
        did, password = body["did"], body["password"]
        if len(password) > OLD_PASSWORD_MAX_LENGTH:
            raise AuthRequiredError("Password too long. Consider resetting your password.")
        account = await self.ctx.accounts.get(did)
        if account is None:
            raise AccountError("account not found")
        if not await verify_password(account.password_hash, password):
            raise AccountAuthError("Invalid did or password")
        await self.service.email_tokens.check(did, "delete_account", body["token"])
        await lifecycle.delete_account(self.service, did)

    # email

    async def request_email_confirmation(self, hc: HandlerContext[AccessCredentials]) -> None:
        await email_flows.request_email_confirmation(self.service, hc.auth.did)

    async def confirm_email(self, hc: HandlerContext[AccessCredentials]) -> None:
        body = json_body(hc)
        await email_flows.confirm_email(self.service, hc.auth.did, body["email"], body["token"])

    async def request_email_update(self, hc: HandlerContext[AccessCredentials]) -> dict[str, Any]:
        required = await email_flows.request_email_update(self.service, hc.auth.did)
        return {"tokenRequired": required}

    async def update_email(self, hc: HandlerContext[AccessCredentials]) -> None:
        body = json_body(hc)
        await email_flows.update_email(
            self.service, hc.auth.did, body["email"], body.get("token"), body.get("emailAuthFactor")
        )

    async def request_password_reset(self, hc: HandlerContext[None]) -> None:
        await email_flows.request_password_reset(self.service, json_body(hc)["email"])

    async def reset_password(self, hc: HandlerContext[None]) -> None:
        body = json_body(hc)
        await email_flows.reset_password(self.service, body["token"], body["password"])

    # invite codes

    async def create_invite_code(self, hc: HandlerContext[Any]) -> dict[str, Any]:
        body = json_body(hc)
        account = body.get("forAccount") or "admin"
        made = await self.service.invites.create([account], 1, body["useCount"])
        return {"code": made[0][1][0]}

    async def create_invite_codes(self, hc: HandlerContext[Any]) -> dict[str, Any]:
        body = json_body(hc)
        accounts = body.get("forAccounts") or ["admin"]
        made = await self.service.invites.create(
            accounts, body.get("codeCount", 1), body["useCount"]
        )
        return {"codes": [{"account": account, "codes": codes} for account, codes in made]}

    async def get_account_invite_codes(
        self, hc: HandlerContext[AccessCredentials]
    ) -> dict[str, Any]:
        did = hc.auth.did
        account = await self.ctx.accounts.get(did)
        if account is None or not account.active:
            raise AccountError("Account not found", "NotFound")
        include_used = hc.params.get("includeUsed", True)
        codes = (await self.service.invites.for_accounts([did]))[did]
        kept = [
            code
            for code in codes
            if not code["disabled"] and (include_used or len(code["uses"]) < code["available"])
        ]
        return {"codes": kept}

    # service auth

    async def get_service_auth(self, hc: HandlerContext[AccessCredentials]) -> dict[str, Any]:
        aud, exp, lxm = hc.params["aud"], hc.params.get("exp"), hc.params.get("lxm")
        check_service_auth_request(aud, exp, lxm, hc.auth.scope, time.time())
        key = await self.ctx.accounts.signing_key(hc.auth.did)
        return {"token": create_service_jwt(key, hc.auth.did, aud, lxm, exp)}
