"""The ``com.atproto.admin.*`` area: what a self-hoster needs to run accounts, with the admin
password (https://atproto.com/specs/xrpc#admin-token-temporary-specification).

Account info, handle/email/password changes, takedowns (of accounts, and of single records and
blobs through :mod:`sonet.pds.moderation`), invite control, deletion, search by email and mail
to account holders.
"""

from __future__ import annotations

from typing import Any, Final

from sonet.pds import moderation
from sonet.pds.accounts import lifecycle
from sonet.pds.accounts.credentials import set_email, set_password
from sonet.pds.accounts.errors import AccountError
from sonet.pds.accounts.handle_update import update_handle
from sonet.pds.accounts.json_body import json_body
from sonet.pds.accounts.service import AccountService, account_service, setup_account_service
from sonet.pds.accounts.views import account_view
from sonet.pds.context import PdsContext
from sonet.pds.mailer import MailMessage
from sonet.storage.pds_account_store import AccountRow
from sonet.xrpc.context import Handler, HandlerContext
from sonet.xrpc.router import XrpcRouter

__all__ = ["register", "setup"]

NS: Final = "com.atproto.admin."
REPO_REF: Final = "com.atproto.admin.defs#repoRef"
DEFAULT_SUBJECT: Final = "Message via your PDS"


async def setup(ctx: PdsContext) -> None:
    """Build the accounts service (shared with the server area)."""
    await setup_account_service(ctx)


def register(router: XrpcRouter, ctx: PdsContext) -> None:
    """Serve the ``com.atproto.admin.*`` methods, all behind the admin password."""
    h = _AdminHandlers(account_service(ctx))
    admin = ctx.auth.admin()

    def query(name: str, handler: Handler[Any]) -> None:
        router.query(NS + name, handler, auth=admin)

    def procedure(name: str, handler: Handler[Any]) -> None:
        router.procedure(NS + name, handler, auth=admin)

    query("getAccountInfo", h.get_account_info)
    query("getAccountInfos", h.get_account_infos)
    query("searchAccounts", h.search_accounts)
    query("getInviteCodes", h.get_invite_codes)
    query("getSubjectStatus", h.get_subject_status)
    procedure("updateSubjectStatus", h.update_subject_status)
    procedure("updateAccountHandle", h.update_account_handle)
    procedure("updateAccountEmail", h.update_account_email)
    procedure("updateAccountPassword", h.update_account_password)
    procedure("enableAccountInvites", h.enable_account_invites)
    procedure("disableAccountInvites", h.disable_account_invites)
    procedure("disableInviteCodes", h.disable_invite_codes)
    procedure("deleteAccount", h.delete_account)
    procedure("sendEmail", h.send_email)


class _AdminHandlers:
    """The admin handlers over the accounts service."""

    def __init__(self, service: AccountService) -> None:
        self.service = service
        self.ctx = service.ctx

    async def _views(self, accounts: list[AccountRow]) -> list[dict[str, Any]]:
        dids = [a.did for a in accounts]
        invites = await self.service.invites.for_accounts(dids)
        invited_by = await self.service.invites.invited_by(dids)
        return [account_view(a, invites[a.did], invited_by.get(a.did)) for a in accounts]

    async def _account(self, identifier: str) -> AccountRow:
        account = await self.ctx.accounts.lookup(identifier)
        if account is None:
            raise AccountError(f"Account does not exist: {identifier}")
        return account

    async def get_account_info(self, hc: HandlerContext[Any]) -> dict[str, Any]:
        account = await self.ctx.accounts.get(hc.params["did"])
        if account is None:
            raise AccountError("Account not found", "NotFound")
        return (await self._views([account]))[0]

    async def get_account_infos(self, hc: HandlerContext[Any]) -> dict[str, Any]:
        async with self.ctx.db.read() as conn:
            accounts = await self.ctx.accounts.store.by_dids(conn, hc.params["dids"])
        return {"infos": await self._views(accounts)}

    async def search_accounts(self, hc: HandlerContext[Any]) -> dict[str, Any]:
        email, cursor, limit = hc.params.get("email"), hc.params.get("cursor"), hc.params["limit"]
        store = self.ctx.accounts.store
        async with self.ctx.db.read() as conn:
            if email:
                accounts = await store.search_email(conn, email, cursor, limit)
            else:
                accounts = await store.list_dids(conn, cursor, limit)
        out: dict[str, Any] = {"accounts": await self._views(accounts)}
        if len(accounts) == limit:
            out["cursor"] = accounts[-1].did
        return out

    async def get_invite_codes(self, hc: HandlerContext[Any]) -> dict[str, Any]:
        codes, cursor = await self.service.invites.page(
            hc.params["sort"], hc.params["limit"], hc.params.get("cursor")
        )
        out: dict[str, Any] = {"codes": codes}
        if cursor is not None:
            out["cursor"] = cursor
        return out

    async def get_subject_status(self, hc: HandlerContext[Any]) -> dict[str, Any]:
        did, uri, blob = hc.params.get("did"), hc.params.get("uri"), hc.params.get("blob")
        if blob:
            if not did:
                raise AccountError("Must provide a did to request blob state")
            found = await moderation.blob_status(self.ctx, did, blob)
        elif uri:
            found = await moderation.record_status(self.ctx, uri)
        elif did:
            found = await self._account_status(did)
        else:
            raise AccountError("No provided subject")
        if found is None:
            raise AccountError("Subject not found", "NotFound")
        return found

    async def _account_status(self, did: str) -> dict[str, Any] | None:
        account = await self.ctx.accounts.get(did)
        if account is None:
            return None
        takedown: dict[str, Any] = {"applied": account.takedown_ref is not None}
        if account.takedown_ref is not None:
            takedown["ref"] = account.takedown_ref
        return {
            "subject": {"$type": REPO_REF, "did": did},
            "takedown": takedown,
            "deactivated": {"applied": account.deactivated_at is not None},
        }

    async def update_subject_status(self, hc: HandlerContext[Any]) -> dict[str, Any]:
        body = json_body(hc)
        subject, takedown, deactivated = (
            body["subject"],
            body.get("takedown"),
            body.get("deactivated"),
        )
        if takedown and takedown["applied"] and deactivated and not deactivated["applied"]:
            raise AccountError("Cannot activate and takedown an account at the same time")
        kind = subject.get("$type")
        if kind not in (REPO_REF, moderation.STRONG_REF, moderation.BLOB_REF):
            raise AccountError(f"Invalid subject ({kind})")
        if takedown and kind == REPO_REF:
            await lifecycle.set_takedown(
                self.service, subject["did"], takedown["applied"], takedown.get("ref")
            )
        elif takedown:
            ref = moderation.takedown_ref(takedown)
            if kind == moderation.STRONG_REF:
                await moderation.set_record_takedown(self.ctx, subject["uri"], ref)
            else:
                await moderation.set_blob_takedown(self.ctx, subject["did"], subject["cid"], ref)
        if kind == REPO_REF:
            did = subject["did"]
            if deactivated:
                if deactivated["applied"]:
                    await lifecycle.deactivate_account(self.service, did, None)
                else:
                    await lifecycle.activate_account(self.service, did)
            if not takedown and not deactivated:
                await lifecycle.sequence_status(self.service, did)
        out: dict[str, Any] = {"subject": subject}
        if takedown:
            out["takedown"] = takedown
        return out

    async def update_account_handle(self, hc: HandlerContext[Any]) -> None:
        body = json_body(hc)
        await update_handle(self.service, body["did"], body["handle"], allow_reserved=True)

    async def update_account_email(self, hc: HandlerContext[Any]) -> None:
        body = json_body(hc)
        account = await self._account(body["account"])
        await set_email(self.service, account.did, body["email"])

    async def update_account_password(self, hc: HandlerContext[Any]) -> None:
        body = json_body(hc)
        await set_password(self.service, body["did"], body["password"])

    async def enable_account_invites(self, hc: HandlerContext[Any]) -> None:
        await self.service.invites.set_account_invites_disabled(json_body(hc)["account"], False)

    async def disable_account_invites(self, hc: HandlerContext[Any]) -> None:
        await self.service.invites.set_account_invites_disabled(json_body(hc)["account"], True)

    async def disable_invite_codes(self, hc: HandlerContext[Any]) -> None:
        body = json_body(hc)
        await self.service.invites.disable(body.get("codes", []), body.get("accounts", []))

    async def delete_account(self, hc: HandlerContext[Any]) -> None:
        await lifecycle.delete_account(self.service, json_body(hc)["did"])

    async def send_email(self, hc: HandlerContext[Any]) -> dict[str, Any]:
        body = json_body(hc)
        account = await self.ctx.accounts.get(body["recipientDid"])
        if account is None:
            raise AccountError("Recipient not found")
        if not account.email:
            raise AccountError("account does not have an email address")
        subject = body.get("subject") or DEFAULT_SUBJECT
        await self.service.mailer.send(MailMessage(account.email, subject, body["content"]))
        return {"sent": True}
