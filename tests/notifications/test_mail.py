"""The shared SMTP transport, against a real SMTP server (aiosmtpd) on 127.0.0.1: one message
to several recipients with attachments in one transaction, the recipients the server refuses
while accepting the others, and bad input refused before connecting."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dialogo.notifications.mail import Attachment, MailError, SmtpConfig, compose, transmit
from tests.smtp_inbox import Inbox, serving

aiosmtpd = pytest.importorskip("aiosmtpd.controller")


class _PickyInbox(Inbox):
    """Refuses recipients at ``nobody.test`` (550), accepts the others."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.endswith("@nobody.test"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def server() -> Iterator[tuple[_PickyInbox, SmtpConfig]]:
    inbox = _PickyInbox()
    with serving(inbox) as port:
        yield inbox, SmtpConfig(host="127.0.0.1", port=port, sender="dialogo@t.test")


def test_several_recipients_and_attachments_in_one_transaction(
    server: tuple[_PickyInbox, SmtpConfig],
) -> None:
    inbox, config = server
    files = [
        Attachment("r.pdf", b"%PDF-1.7 not really", "application", "pdf"),
        Attachment("r.html", "<p>caffè</p>", "text", "html"),
    ]
    to = ["a@brand.test", "b@brand.test", "x@nobody.test"]
    msg = compose(config, to, "Weekly\r\nBcc: evil@x.test", "Hello", files)
    message_id, refused = transmit(config, msg, to)
    assert refused == ["x@nobody.test"]  # the others got it; not retried
    [(sender, rcpts, got)] = inbox.messages
    assert sender == "dialogo@t.test" and rcpts == ["a@brand.test", "b@brand.test"]
    assert got["Message-ID"] == message_id and got["Bcc"] is None
    assert got["Subject"] == "Weekly Bcc: evil@x.test"  # one line: no header injection
    assert got["Auto-Submitted"] == "auto-generated"
    parts = list(got.iter_attachments())
    assert [(p.get_filename(), p.get_content_type()) for p in parts] == [
        ("r.pdf", "application/pdf"),
        ("r.html", "text/html"),
    ]
    assert parts[0].get_content() == b"%PDF-1.7 not really"
    assert "caffè" in parts[1].get_content()


def test_nobody_accepted_and_bad_input_are_errors(server: tuple[_PickyInbox, SmtpConfig]) -> None:
    inbox, config = server
    with pytest.raises(MailError, match=r"refused x@nobody\.test"):
        transmit(config, compose(config, ["x@nobody.test"], "s", "b"), ["x@nobody.test"])
    with pytest.raises(MailError, match="no recipients"):
        transmit(config, compose(config, [], "s", "b"), [])
    with pytest.raises(MailError, match=r"not an e-mail address: 'a@b\.test, c@d\.test'"):
        transmit(config, compose(config, ["x@y.test"], "s", "b"), ["a@b.test, c@d.test"])
    assert inbox.messages == []
