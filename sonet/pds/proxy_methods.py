"""Which XRPC methods the PDS proxies, to which default service, and under which credentials.

https://atproto.com/specs/xrpc#service-proxying: a call the PDS does not implement goes to the
service named by the ``atproto-proxy`` header, or to a default one. The reference PDS's rules:
account-management methods are never proxied, direct-message methods need a full or privileged
session, moderation tools go to the moderation service, reports to the report service and
everything else to the AppView. NSIDs compare case-insensitively.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = [
    "CHAT_METHODS",
    "PRIVILEGED_METHODS",
    "PROTECTED_METHODS",
    "DefaultService",
    "default_service",
    "is_chat_method",
    "is_privileged_method",
    "is_protected_method",
]


class DefaultService(StrEnum):
    """The configured services a call may go to without an ``atproto-proxy`` header."""

    APPVIEW = "appview"
    CHAT = "chat"
    MODERATION = "moderation"
    REPORTS = "reports"

    @property
    def service_id(self) -> str:
        """The DID-document service id (without ``#``) that names such a service."""
        return _SERVICE_IDS[self]


_SERVICE_IDS: Final = {
    DefaultService.APPVIEW: "bsky_appview",
    DefaultService.CHAT: "bsky_chat",
    DefaultService.MODERATION: "atproto_labeler",
    DefaultService.REPORTS: "atproto_labeler",
}


CHAT_METHODS: Final = frozenset(
    nsid.lower()
    for nsid in (
        "chat.bsky.actor.deleteAccount",
        "chat.bsky.actor.exportAccountData",
        "chat.bsky.convo.deleteMessageForSelf",
        "chat.bsky.convo.getConvo",
        "chat.bsky.convo.getConvoForMembers",
        "chat.bsky.convo.getLog",
        "chat.bsky.convo.getMessages",
        "chat.bsky.convo.leaveConvo",
        "chat.bsky.convo.listConvos",
        "chat.bsky.convo.muteConvo",
        "chat.bsky.convo.sendMessage",
        "chat.bsky.convo.sendMessageBatch",
        "chat.bsky.convo.unmuteConvo",
        "chat.bsky.convo.updateRead",
    )
)
"""Direct-message methods: app passwords need the privileged flag to call them."""

PRIVILEGED_METHODS: Final = CHAT_METHODS | {"com.atproto.server.createaccount"}
"""Methods an ordinary (non-privileged) app-password session may not have proxied."""

PROTECTED_METHODS: Final = frozenset(
    nsid.lower()
    for nsid in (
        "com.atproto.admin.sendEmail",
        "com.atproto.identity.requestPlcOperationSignature",
        "com.atproto.identity.signPlcOperation",
        "com.atproto.identity.updateHandle",
        "com.atproto.server.activateAccount",
        "com.atproto.server.confirmEmail",
        "com.atproto.server.createAppPassword",
        "com.atproto.server.deactivateAccount",
        "com.atproto.server.getAccountInviteCodes",
        "com.atproto.server.getSession",
        "com.atproto.server.listAppPasswords",
        "com.atproto.server.requestAccountDelete",
        "com.atproto.server.requestEmailConfirmation",
        "com.atproto.server.requestEmailUpdate",
        "com.atproto.server.revokeAppPassword",
        "com.atproto.server.updateEmail",
    )
)
"""Account-management methods that must be called on the PDS itself, never proxied."""

_CHAT_PREFIX: Final = "chat.bsky."
_MODERATION_PREFIX: Final = "tools.ozone."
_REPORT_METHOD: Final = "com.atproto.moderation.createreport"


def is_protected_method(nsid: str) -> bool:
    """True for an account-management method that is never proxied."""
    return nsid.lower() in PROTECTED_METHODS


def is_privileged_method(nsid: str) -> bool:
    """True for a method that needs a full or privileged session to be proxied."""
    return nsid.lower() in PRIVILEGED_METHODS


def is_chat_method(nsid: str) -> bool:
    """True for a ``chat.bsky.*`` method."""
    return nsid.lower().startswith(_CHAT_PREFIX)


def default_service(nsid: str) -> DefaultService:
    """Where a call without an ``atproto-proxy`` header goes."""
    lowered = nsid.lower()
    if lowered.startswith(_MODERATION_PREFIX):
        return DefaultService.MODERATION
    if lowered == _REPORT_METHOD:
        return DefaultService.REPORTS
    if lowered.startswith(_CHAT_PREFIX):
        return DefaultService.CHAT
    return DefaultService.APPVIEW
