"""Crisis alerts by e-mail, through a real SMTP server (aiosmtpd) on the loopback interface,
and the crisis explanation behind them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.core import i18n
from dialogo.core.config import Settings
from dialogo.listening import service
from dialogo.listening.mail import MailError, SmtpConfig, may_login, send
from dialogo.listening.models import MentionSource
from dialogo.listening.schemas import AlertTargetCreate, QueryCreate
from dialogo.notifications import kinds
from dialogo.notifications.models import Notification
from tests.listening.conftest import Brand
from tests.smtp_inbox import Inbox, free_port, serving

aiosmtpd = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

NOW = dt.datetime(2026, 1, 26, 10, 5, tzinfo=dt.UTC)  # a Monday
JUDGED = NOW.replace(minute=0) - dt.timedelta(hours=1)


@dataclasses.dataclass
class Smtp:
    inbox: Inbox
    config: SmtpConfig


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alerts", b"s3cret")
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


@pytest.fixture(params=["open", "auth"])
def smtp(request: pytest.FixtureRequest) -> Iterator[Smtp]:
    """A real SMTP server on 127.0.0.1: open, or requiring a login (allowed without TLS only
    because it is on the loopback interface)."""
    inbox = Inbox()
    kwargs: dict[str, Any] = {}
    user = password = None
    if request.param == "auth":
        kwargs = {"authenticator": _authenticator, "auth_require_tls": False, "auth_required": True}
        user, password = "alerts", "s3cret"
    with serving(inbox, **kwargs) as port:
        yield Smtp(
            inbox,
            SmtpConfig(
                host="127.0.0.1", port=port, user=user, password=password, sender="dialogo@t.test"
            ),
        )


def _seed_spike(db: Session, brand: Brand) -> int:
    qid = service.add_query(db, brand.id, QueryCreate(name="Acme", query="acme")).id
    items = []
    n = 0
    for week in range(1, 5):  # usual Mondays at this hour: a few calm mentions
        for k in range(2 + week % 2):
            n += 1
            items.append(
                service.Incoming(
                    channel="import",
                    remote_id=str(n),
                    text="acme coffee this morning, fine as usual",
                    posted_at=JUDGED - dt.timedelta(weeks=week, minutes=-k),
                    author_handle=f"regular{k}",
                )
            )
    for k in range(30):  # the judged hour: an angry wave about refunds
        n += 1
        items.append(
            service.Incoming(
                channel="import",
                remote_id=str(n),
                text=f"acme refund still missing, terrible service! order {k}",
                posted_at=JUDGED + dt.timedelta(minutes=k),
                author_handle="angry" if k < 12 else f"user{k}",
                reach=k,
            )
        )
    service.ingest(db, brand.id, items, source=MentionSource.file, keep_unmatched=True)
    return qid


def test_alert_is_mailed_with_the_crisis_behind_it(db: Session, brand: Brand, smtp: Smtp) -> None:
    brand.workspace.language = "en"  # an address of no member is written in the workspace's
    qid = _seed_spike(db, brand)
    target = service.add_alert_target(
        db, brand.principal, brand.id, AlertTargetCreate(kind="email", target="pr@brand.test")
    )
    raised = service.check_alerts(
        db, brand.id, now=NOW, smtp=smtp.config, base_url="https://dialogo.example/"
    )
    assert {a.kind for a in raised} == {"volume", "negative_share"}
    assert len(smtp.inbox.messages) == 2
    for alert in raised:
        assert alert.delivery[str(target.id)]["email"].startswith("<")
    sender, rcpts, msg = smtp.inbox.messages[0]
    assert (sender, rcpts) == ("dialogo@t.test", ["pr@brand.test"])
    assert msg["Subject"].startswith(("Mentions of “Acme” spiked", "Negative mentions of “Acme”"))
    body = msg.get_content()
    assert "Mentions in the hour: 30" in body
    assert "refund" in body.split("Said more than usual:")[1].splitlines()[0]
    assert "acme refund still missing" in body
    alert_id = next(a.id for a in raised if a.kind == "volume")
    assert any(
        f"https://dialogo.example/w/{brand.id}/listening/alerts/{a.id}" in m.get_content()
        for a in raised
        for _, _, m in smtp.inbox.messages
    )
    assert alert_id and qid


def test_alert_mail_is_in_the_recipients_language(db: Session, brand: Brand, smtp: Smtp) -> None:
    """A member's address gets the member's language; another address the workspace's."""
    brand.workspace.language = "it"
    brand.owner.language = "en"
    _seed_spike(db, brand)
    for address in (brand.owner.email.upper(), "pr@brand.test"):
        service.add_alert_target(
            db, brand.principal, brand.id, AlertTargetCreate(kind="email", target=address)
        )
    raised = service.check_alerts(db, brand.id, now=NOW, smtp=smtp.config)
    assert len(raised) == 2 and len(smtp.inbox.messages) == 4
    by_rcpt: dict[str, list[Any]] = {}
    for _, rcpts, msg in smtp.inbox.messages:
        by_rcpt.setdefault(rcpts[0].lower(), []).append(msg)
    english = by_rcpt[brand.owner.email.lower()]
    italian = by_rcpt["pr@brand.test"]
    assert all("Mentions in the hour: 30" in m.get_content() for m in english)
    stored = db.scalars(select(Notification).where(Notification.workspace_id == brand.id)).all()
    worded = [kinds.render(n, "it") for n in stored if n.kind == "listening.alert"]
    assert sorted(m["Subject"] for m in italian) == sorted(w.title for w in worded)
    assert sorted(m["Subject"] for m in english) == sorted(n.title for n in stored)
    mentions_line = i18n.translator("it").gettext(
        "Mentions in the hour: %(volume)s; negative %(share)s (usually %(usual)s over the "
        "previous %(weeks)s weeks)"
    )
    for m in italian:
        assert mentions_line.split("%(")[0] + "30" in m.get_content()
    assert {m["Subject"] for m in italian}.isdisjoint({m["Subject"] for m in english})


def test_mail_failures_are_recorded_and_lose_nothing(db: Session, brand: Brand) -> None:
    _seed_spike(db, brand)
    target = service.add_alert_target(
        db, brand.principal, brand.id, AlertTargetCreate(kind="email", target="pr@brand.test")
    )
    # No SMTP configured: the alert and the in-app notification exist, the e-mail is marked.
    raised = service.check_alerts(db, brand.id, now=NOW, smtp=None)
    assert len(raised) == 2
    assert all("not configured" in a.delivery[str(target.id)]["error"] for a in raised)
    notes = db.scalars(select(Notification).where(Notification.kind == "listening.alert")).all()
    assert sorted(n.link for n in notes) == sorted(
        f"/w/{brand.id}/listening/alerts/{a.id}" for a in raised
    )


def test_unreachable_server_and_refused_login_are_errors(smtp: Smtp) -> None:
    closed = dataclasses.replace(smtp.config, port=free_port())
    with pytest.raises(MailError, match="cannot reach"):
        send(closed, "pr@brand.test", "s", "b")
    with pytest.raises(MailError, match="not an e-mail address"):
        send(smtp.config, "pr@brand.test\r\nBcc: x@y.z", "s", "b")
    if smtp.config.user:
        wrong = dataclasses.replace(smtp.config, password="nope")
        with pytest.raises(MailError, match="login refused"):
            send(wrong, "pr@brand.test", "s", "b")
    # A subject cannot inject headers.
    send(smtp.config, "pr@brand.test", "hello\r\nBcc: evil@x.test", "body")
    _, rcpts, msg = smtp.inbox.messages[-1]
    assert rcpts == ["pr@brand.test"] and msg["Subject"] == "hello Bcc: evil@x.test"
    assert msg["Bcc"] is None


def test_the_password_goes_in_clear_text_only_to_a_loopback_server() -> None:
    assert may_login("127.0.0.1", encrypted=False)
    assert may_login("localhost", encrypted=False)
    assert may_login("::1", encrypted=False)
    assert not may_login("mail.example.org", encrypted=False)
    assert not may_login("10.0.0.5", encrypted=False)
    assert may_login("mail.example.org", encrypted=True)


def test_settings_give_the_smtp_config() -> None:
    assert SmtpConfig.from_settings(Settings(smtp_host=None)) is None
    cfg = SmtpConfig.from_settings(
        Settings(
            smtp_host="mail.example",
            smtp_port=465,
            smtp_user="me@example.org",
            smtp_password="pw",  # type: ignore[arg-type]
        )
    )
    assert cfg == SmtpConfig("mail.example", 465, "me@example.org", "pw", "me@example.org")


def test_alert_targets_are_validated() -> None:
    assert AlertTargetCreate(kind="email", target=" pr@brand.test ").target == "pr@brand.test"
    for bad in (
        {"kind": "email", "target": "not-an-address"},
        {"kind": "email", "target": "a@b.test", "secret": "x" * 20},
        {"kind": "webhook", "target": "ftp://x.test/hook", "secret": "x" * 20},
        {"kind": "webhook", "target": "https://x.test/hook", "secret": "short"},
        {"kind": "sms", "target": "+39000000"},
    ):
        with pytest.raises(ValidationError):
            AlertTargetCreate.model_validate(bad)


def test_crisis_explains_the_spike(db: Session, brand: Brand) -> None:
    _seed_spike(db, brand)
    raised = service.check_alerts(db, brand.id, now=NOW)
    volume = next(a for a in raised if a.kind == "volume")
    crisis = service.get_crisis(db, brand.principal, brand.id, volume.id)
    assert crisis.window_volume == 30 and crisis.baseline_volume == 10
    assert crisis.window_negative_share == 1.0 and crisis.baseline_negative_share == 0.0
    assert len(crisis.hours) == service.CRISIS_HOURS
    assert crisis.hours[-1] == JUDGED and crisis.volume[-1] == 30
    assert crisis.expected[-1] == pytest.approx(2.5)  # 3, 2, 3, 2 on the previous Mondays
    assert crisis.volume[-2] == 0 and crisis.expected[-2] == 0
    keys = [c.key for c in crisis.terms]
    assert {"refund", "missing", "terrible"} <= set(keys)
    assert "acme" not in keys  # in every mention, before and now: no lift
    assert crisis.authors[0].key == "angry" and crisis.authors[0].count == 12
    assert "billing" in [c.key for c in crisis.topics]
    assert all(m.final_label == "negative" for m in crisis.mentions)
    assert len(crisis.mentions) == 30
    with pytest.raises(service.NotFound):
        service.get_crisis(db, brand.principal, brand.id, volume.id + 999)


def test_alert_mail_gives_the_hour_in_the_workspaces_time_zone(
    db: Session, brand: Brand, smtp: Smtp
) -> None:
    """The judged hour (09:00 UTC on a winter Monday) reads 10:00 in Rome, with the offset."""
    brand.workspace.language = "en"
    brand.workspace.timezone = "Europe/Rome"
    _seed_spike(db, brand)
    service.add_alert_target(
        db, brand.principal, brand.id, AlertTargetCreate(kind="email", target="pr@brand.test")
    )
    service.check_alerts(db, brand.id, now=NOW, smtp=smtp.config)
    assert smtp.inbox.messages
    for _, _, msg in smtp.inbox.messages:
        body = msg.get_content()
        assert "Hour: 2026-01-26 10:00 (Europe/Rome, UTC+01:00)" in body
        assert "09:00" not in body


@pytest.mark.parametrize(
    ("at", "zone", "expected"),
    [
        (dt.datetime(2026, 1, 26, 9, tzinfo=dt.UTC), "UTC", ("2026-01-26 09:00", "UTC, UTC+00:00")),
        # Summer time: Rome is two hours ahead; New York is behind, across midnight.
        (
            dt.datetime(2026, 7, 1, 9, tzinfo=dt.UTC),
            "Europe/Rome",
            ("2026-07-01 11:00", "Europe/Rome, UTC+02:00"),
        ),
        (
            dt.datetime(2026, 7, 1, 2, 30),  # naive: read as UTC, as stored
            "America/New_York",
            ("2026-06-30 22:30", "America/New_York, UTC-04:00"),
        ),
        (
            dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.UTC),
            "Asia/Kolkata",
            ("2026-01-01 05:30", "Asia/Kolkata, UTC+05:30"),
        ),
    ],
)
def test_local_hour_of_an_alert(at: dt.datetime, zone: str, expected: tuple[str, str]) -> None:
    assert service.local_hour(at, zone) == expected
