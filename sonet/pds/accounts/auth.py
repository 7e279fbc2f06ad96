"""Session-token verifiers that also check the account's hosting status.

As the reference PDS's ``authorization({checkTakedown, checkDeactivated})``: a token of an
account that is gone is a 403 ``AccountNotFound``; of a taken-down one a 401 ``AccountTakedown``
(and the ``com.atproto.takendown`` scope is then never accepted); of a deactivated one a 401
``AccountDeactivated``. Other PDS areas use these for writes.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sonet.pds.accounts.directory import AccountDirectory
from sonet.xrpc.auth import AccessCredentials, AuthVerifiers
from sonet.xrpc.context import AuthVerifier, HandlerContext
from sonet.xrpc.errors import AuthRequiredError, ForbiddenError
from sonet.xrpc.tokens import ACCESS_STANDARD, AuthScope

__all__ = ["AccountAuth"]


class AccountAuth:
    """Builds ``auth=`` verifiers over the PDS's token verifiers and account directory."""

    def __init__(self, auth: AuthVerifiers, accounts: AccountDirectory) -> None:
        self.auth = auth
        self.accounts = accounts

    def access(
        self,
        scopes: Collection[AuthScope] = ACCESS_STANDARD,
        *,
        check_takedown: bool = False,
        check_deactivated: bool = False,
    ) -> AuthVerifier[AccessCredentials]:
        """An access token with one of ``scopes``, of an account in an acceptable state."""
        allowed = tuple(s for s in scopes if not (check_takedown and s is AuthScope.TAKENDOWN))
        verify_token = self.auth.access(allowed)
        if not (check_takedown or check_deactivated):
            return verify_token

        async def verify(ctx: HandlerContext[Any]) -> AccessCredentials:
            credentials = await verify_token(ctx)
            await self.check_status(
                credentials.did,
                check_takedown=check_takedown,
                check_deactivated=check_deactivated,
            )
            return credentials

        return verify

    async def check_status(
        self, did: str, *, check_takedown: bool, check_deactivated: bool
    ) -> None:
        """Refuse an account that is gone, or taken down / deactivated when so asked."""
        account = await self.accounts.get(did)
        if account is None:
            raise ForbiddenError("Account not found", "AccountNotFound")
        if check_takedown and account.status in ("takendown", "suspended"):
            raise AuthRequiredError("Account has been taken down", "AccountTakedown")
        if check_deactivated and account.deactivated_at is not None:
            raise AuthRequiredError("Account is deactivated", "AccountDeactivated")
