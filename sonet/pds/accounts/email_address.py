"""Checking the email addresses accounts sign up with (a practical subset of RFC 5321 syntax)."""

from __future__ import annotations

import re
from typing import Final

from sonet.pds.accounts.errors import AccountError

__all__ = ["MAX_EMAIL_LENGTH", "ensure_supported_email", "is_valid_email"]

MAX_EMAIL_LENGTH: Final = 320
_LOCAL: Final = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL: Final = re.compile(rf"{_LOCAL}@(?:{_LABEL}\.)+[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]")


def is_valid_email(email: str) -> bool:
    """True for ``local@domain.tld`` with a dot-atom local part of at most 64 characters."""
    if len(email) > MAX_EMAIL_LENGTH or _EMAIL.fullmatch(email) is None:
        return False
    return len(email.partition("@")[0]) <= 64


def ensure_supported_email(email: str) -> str:
    """The address lower-cased, or the reference's 400 for an unsupported one."""
    if not is_valid_email(email):
        raise AccountError("This email address is not supported, please use a different email.")
    return email.lower()
