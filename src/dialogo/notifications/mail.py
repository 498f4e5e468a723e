"""E-mail over SMTP (the standard library's ``smtplib``): the one transport every domain uses
(listening alerts, scheduled reports).

Port 465 speaks implicit TLS; any other port upgrades with STARTTLS when the server offers it.
The password is never sent over a connection that is not encrypted, except to a server on the
loopback interface (a local relay). Every failure becomes a :class:`MailError` with a readable
message, which the caller records: nothing is lost because mail failed.

:func:`compose` builds a message (several recipients, a plain-text body, attachments);
:func:`transmit` hands it to the server for all its recipients in one SMTP transaction.
"""

from __future__ import annotations

import ipaddress
import re
import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Final

from dialogo.core.config import Settings

ADDRESS_RE: Final = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+$")
TIMEOUT_SECONDS: Final = 15.0


class MailError(RuntimeError):
    """The message could not be handed to the SMTP server."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    user: str | None = None
    password: str | None = None
    sender: str = "dialogo@localhost"

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig | None:
        """None when ``DIALOGO_SMTP_HOST`` is unset (e-mail is then undelivered)."""
        if not settings.smtp_host:
            return None
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        sender = settings.smtp_from or (
            settings.smtp_user if settings.smtp_user and "@" in settings.smtp_user else None
        )
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            user=settings.smtp_user or None,
            password=password,
            sender=sender or f"dialogo@{socket.getfqdn() or 'localhost'}",
        )


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes | str  # str: a text part (``subtype`` under ``text/``)
    maintype: str = "application"
    subtype: str = "octet-stream"


def valid_address(address: str) -> bool:
    return bool(ADDRESS_RE.match(address)) and len(address) <= 254


def may_login(host: str, *, encrypted: bool) -> bool:
    """Send the password only over TLS, or to a relay on this machine's loopback interface."""
    if encrypted or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def compose(
    config: SmtpConfig,
    recipients: Sequence[str],
    subject: str,
    body: str,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """A plain-text message (``multipart/mixed`` when it has attachments), marked as sent by a
    machine (``Auto-Submitted``) so that vacation responders stay quiet."""
    msg = EmailMessage()
    msg["From"] = config.sender
    msg["To"] = ", ".join(recipients)
    # Header injection: a subject is one line.
    msg["Subject"] = " ".join(subject.split())[:250]
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or "localhost")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body)
    for item in attachments:
        if isinstance(item.content, str):
            msg.add_attachment(item.content, subtype=item.subtype, filename=item.filename)
        else:
            msg.add_attachment(
                item.content,
                maintype=item.maintype,
                subtype=item.subtype,
                filename=item.filename,
            )
    return msg


def _connect(config: SmtpConfig) -> tuple[smtplib.SMTP, bool]:
    if config.port == 465:
        client = smtplib.SMTP_SSL(
            config.host, config.port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
        )
        return client, True
    return smtplib.SMTP(config.host, config.port, timeout=TIMEOUT_SECONDS), False


def transmit(
    config: SmtpConfig, msg: EmailMessage, recipients: Sequence[str]
) -> tuple[str, list[str]]:
    """Hand ``msg`` to the SMTP server for all ``recipients`` in one transaction; return its
    Message-ID and the recipients the server refused while accepting the others (not retried
    here: the others would get it twice). Raise :class:`MailError` when nobody got it."""
    if not recipients:
        raise MailError("no recipients")
    bad = [r for r in recipients if not valid_address(r)]
    if bad:
        raise MailError(f"not an e-mail address: {', '.join(repr(b) for b in bad)}")
    try:
        client, encrypted = _connect(config)
        with client:
            client.ehlo()
            if not encrypted and client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
                encrypted = True
            if config.user:
                if not may_login(config.host, encrypted=encrypted):
                    raise MailError(
                        f"{config.host} offers no TLS: refusing to send the SMTP password "
                        "in clear text"
                    )
                client.login(config.user, config.password or "")
            refused = client.send_message(msg, to_addrs=list(recipients))
    except MailError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(f"SMTP login refused ({exc.smtp_code})") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"the SMTP server refused {', '.join(exc.recipients)}") from exc
    except smtplib.SMTPResponseException as exc:
        raw = exc.smtp_error
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
        raise MailError(f"SMTP error {exc.smtp_code}: {text}".strip()) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"cannot reach {config.host}:{config.port}: {exc}") from exc
    return str(msg["Message-ID"]), sorted(refused)
