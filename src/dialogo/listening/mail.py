"""E-mail delivery of listening alerts: one plain-text message to one address, through the
shared SMTP transport (:mod:`dialogo.notifications.mail`, which holds the connection rules:
TLS, STARTTLS, when the password may be sent, how failures read).

A failure is a :class:`MailError` with a readable message, which the caller records on the
alert: an alert is never lost because mail failed.
"""

from __future__ import annotations

from dialogo.notifications.mail import (
    ADDRESS_RE,
    TIMEOUT_SECONDS,
    MailError,
    SmtpConfig,
    compose,
    may_login,
    transmit,
    valid_address,
)

__all__ = [
    "ADDRESS_RE",
    "TIMEOUT_SECONDS",
    "MailError",
    "SmtpConfig",
    "may_login",
    "send",
    "valid_address",
]


def send(config: SmtpConfig, to: str, subject: str, body: str) -> str:
    """Send one plain-text message; return its Message-ID. Raise :class:`MailError`."""
    if not valid_address(to):
        raise MailError(f"not an e-mail address: {to!r}")
    message_id, refused = transmit(config, compose(config, [to], subject, body), [to])
    if refused:  # pragma: no cover - with one recipient the server refuses the transaction
        raise MailError(f"the SMTP server refused {', '.join(refused)}")
    return message_id
