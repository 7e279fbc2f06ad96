"""Outgoing mail of the PDS: email confirmation, email change, password reset, account deletion,
sign-in codes.

With ``SONET_SMTP_URL`` set (``smtp://[user:password@]host[:port]``, ``smtp+starttls://`` to
upgrade the connection, ``smtps://`` for implicit TLS) messages go out over SMTP with the
standard library's client in a worker thread. Without it, in dev mode, each message is written
to the log (``sonet.pds.mailer``, INFO) so a local developer can read the token; otherwise the
message is dropped with a warning that names no token.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Final
from urllib.parse import unquote, urlsplit

from sonet.pds.errors import PdsError

__all__ = ["MailDeliveryError", "MailMessage", "Mailer", "SmtpSettings"]

log = logging.getLogger(__name__)

SMTP_TIMEOUT: Final = 20.0
_DEFAULT_PORTS: Final = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class MailDeliveryError(PdsError):
    """The SMTP server refused the message or could not be reached."""

    status = 502
    error = "UpstreamFailure"


@dataclass(frozen=True, slots=True)
class MailMessage:
    """One plain-text message."""

    to: str
    subject: str
    text: str


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and how to submit mail."""

    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """Parse an ``smtp://``, ``smtp+starttls://`` or ``smtps://`` URL."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"not an SMTP URL: {scheme}://...")
        return cls(
            host=parts.hostname,
            port=parts.port or _DEFAULT_PORTS[scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=scheme == "smtps",
            starttls=scheme == "smtp+starttls",
        )


def _submit(settings: SmtpSettings, sender: str, message: MailMessage) -> None:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to
    email["Subject"] = message.subject
    email.set_content(message.text)
    client: smtplib.SMTP
    if settings.implicit_tls:
        context = ssl.create_default_context()
        client = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=SMTP_TIMEOUT, context=context
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT)
    with client:
        if settings.starttls:
            client.starttls(context=ssl.create_default_context())
        if settings.username is not None:
            client.login(settings.username, settings.password or "")
        client.send_message(email)


class Mailer:
    """Sends the PDS's messages from ``sender`` for the service named ``service_name``."""

    def __init__(
        self,
        smtp_url: str | None,
        sender: str,
        *,
        service_name: str = "Sonet PDS",
        dev_mode: bool = False,
    ) -> None:
        self.smtp = SmtpSettings.from_url(smtp_url) if smtp_url else None
        self.sender = sender
        self.service_name = service_name
        self.dev_mode = dev_mode

    async def send(self, message: MailMessage) -> None:
        """Deliver one message (or log it, see the module docstring)."""
        if self.smtp is None:
            if self.dev_mode:
                log.info("mail to %s\nSubject: %s\n\n%s", message.to, message.subject, message.text)
            else:
                log.warning("no SMTP server configured: mail to %s not sent", message.to)
            return
        try:
            await asyncio.to_thread(_submit, self.smtp, self.sender, message)
        except (OSError, smtplib.SMTPException) as exc:
            log.error("sending mail to %s failed: %r", message.to, exc)
            raise MailDeliveryError("could not send email") from None

    async def send_token(self, to: str, purpose: str, token: str) -> None:
        """Send a one-time token for ``purpose`` (one of :data:`TOKEN_MAILS`)."""
        subject, what = TOKEN_MAILS[purpose]
        text = (
            f"Hello,\n\nSomeone asked {self.service_name} to {what}.\n"
            f"Your code is:\n\n    {token}\n\n"
            "It expires in 15 minutes. If you did not ask for this, ignore this message.\n"
        )
        await self.send(MailMessage(to, f"{subject} ({self.service_name})", text))


TOKEN_MAILS: Final[dict[str, tuple[str, str]]] = {
    "confirm_email": ("Confirm your email", "confirm that this address belongs to your account"),
    "update_email": ("Change your email", "change the email address of your account"),
    "reset_password": ("Reset your password", "reset the password of your account"),
    "delete_account": ("Delete your account", "delete your account for good"),
    "plc_operation": ("Confirm an identity change", "change your account's identity (DID)"),
    "2fa": ("Your sign-in code", "sign in to your account with its password"),
}
"""Subject and purpose sentence of each token mail."""
