"""A real SMTP server's mailbox for the tests (aiosmtpd on 127.0.0.1): what it accepted, and
SMTP failures on demand."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """An aiosmtpd handler: keeps (sender, recipients, message) of each accepted message, or
    answers ``fail_with`` (an SMTP reply) to the next ``failures`` messages."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.failures = 0
        self.fail_with = "451 4.3.0 mailbox temporarily unavailable"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.failures > 0:
            self.failures -= 1
            return self.fail_with
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


@contextmanager
def serving(handler: Inbox, **options: Any) -> Iterator[int]:
    """Run an aiosmtpd server on 127.0.0.1 with ``handler`` (and the controller's ``options``);
    yield its port."""
    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
