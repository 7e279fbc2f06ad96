"""Account and host status as a relay tracks them.

https://atproto.com/specs/account#hosting-status: an account is ``active`` or has a status such as
``takendown``, ``suspended``, ``deleted``, ``deactivated``, ``desynchronized`` or ``throttled``.
A relay keeps two: the *upstream* status reported by the account's PDS (``#account`` events) and
its own *local* status (an admin takedown, or ``host-throttled`` when the host is over its account
limit). The account is active only when both allow it. Hosts are ``active``, ``idle``,
``offline``, ``throttled`` or ``banned`` (``com.atproto.sync.defs#hostStatus``).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AccountStatus", "HostStatus", "account_is_active", "public_account_status"]


class AccountStatus(StrEnum):
    """Account statuses; ``host-throttled`` and ``inactive`` are relay-internal."""

    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    DELETED = "deleted"
    DESYNCHRONIZED = "desynchronized"
    SUSPENDED = "suspended"
    TAKENDOWN = "takendown"
    THROTTLED = "throttled"
    HOST_THROTTLED = "host-throttled"
    INACTIVE = "inactive"

    @classmethod
    def upstream(cls, active: bool, status: object) -> AccountStatus:
        """The upstream status an ``#account`` event (``active``, ``status``) reports."""
        if active:
            return cls.ACTIVE
        if isinstance(status, str):
            try:
                found = cls(status)
            except ValueError:
                return cls.INACTIVE
            if found not in (cls.ACTIVE, cls.HOST_THROTTLED):
                return found
        return cls.INACTIVE


class HostStatus(StrEnum):
    """Upstream host statuses."""

    ACTIVE = "active"
    IDLE = "idle"
    OFFLINE = "offline"
    THROTTLED = "throttled"
    BANNED = "banned"


def account_is_active(local: str, upstream: str) -> bool:
    """Active locally (or merely rate-throttled) and upstream."""
    return local in (AccountStatus.ACTIVE, AccountStatus.THROTTLED) and (
        upstream == AccountStatus.ACTIVE
    )


def public_account_status(local: str, upstream: str) -> str | None:
    """The ``status`` field shown to consumers: None when active."""
    if account_is_active(local, upstream):
        return None
    if local == AccountStatus.HOST_THROTTLED:
        return AccountStatus.THROTTLED.value
    if local != AccountStatus.ACTIVE:
        return str(local)
    return str(upstream)
