"""The queue slots, recurring posts and webhooks pages, and the calendar's list of posts with
no time yet, through the app (TestClient). Webhook test events go to a real HTTP server on
127.0.0.1 that checks nothing and records every request, so the signature is verified here."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import re
import threading
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.jobs.models import Job
from dialogo.publishing import slots, webhooks
from dialogo.publishing.models import (
    Post,
    QueueSlot,
    RecurringPost,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.factories import add_member
from tests.web import test_publishing_pages as _pages
from tests.web.conftest import Browser
from tests.web.test_publishing_pages import Two, compose_form, posts_in

# The publishing pages' fixtures: two fake networks, the app with them, a channel on each.
app = _pages.app
chans = _pages.chans
networks = _pages.networks
registry = _pages.registry

# --- queue slots ---------------------------------------------------------------------------------


def slots_of(db: Session, channel_id: int) -> list[tuple[int, str]]:
    db.expire_all()
    return [
        (s.weekday, s.local_time)
        for s in db.scalars(
            select(QueueSlot)
            .where(QueueSlot.channel_id == channel_id)
            .order_by(QueueSlot.weekday, QueueSlot.local_time)
        )
    ]


def test_add_and_remove_queue_slots_and_see_the_next_free_ones(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    page = signed_in.get(f"/w/{workspace.id}/publishing/queue")
    assert page.status_code == 200
    assert page.text.count("No slot yet: this channel has no queue.") == 2
    assert f'href="/w/{workspace.id}/publishing/new"' in page.text  # to "Add to the queue"
    url = f"/w/{workspace.id}/publishing/queue/{chans.long.id}"
    for day, at in (("0", "09:30"), ("3", "18:00"), ("0", "09:30")):
        r = signed_in.post(f"{url}/add", {"weekday": day, "local_time": at})
        assert r.status_code == 303, r.text
    assert "This slot exists already." in signed_in.get(r.headers["location"]).text
    assert slots_of(db, chans.long.id) == [(0, "09:30"), (3, "18:00")]
    assert slots_of(db, chans.short.id) == []

    page = signed_in.get(f"/w/{workspace.id}/publishing/queue").text
    section = re.search(rf'<section id="queue-{chans.long.id}".*?</section>', page, re.S)
    assert section
    times = re.findall(r'<time datetime="([^"]+)"', section.group(0))
    assert len(times) == 5
    tz = ZoneInfo(workspace.timezone)
    local = [dt.datetime.fromisoformat(t).astimezone(tz) for t in times]
    assert local == sorted(local) and local[0] > dt.datetime.now(tz)
    assert {(t.weekday(), t.strftime("%H:%M")) for t in local} == {(0, "09:30"), (3, "18:00")}

    # A scheduled post takes the first slot: it is not free any more.
    first = dt.datetime.fromisoformat(times[0])
    form = compose_form(chans, "Ciao!", short=False, action="queue")
    r = signed_in.post(f"/w/{workspace.id}/publishing/posts", form)
    assert r.status_code == 303, r.text
    [post] = posts_in(db, workspace)
    assert post.scheduled_at.replace(tzinfo=dt.UTC) == first
    page = signed_in.get(f"/w/{workspace.id}/publishing/queue").text
    section = re.search(rf'<section id="queue-{chans.long.id}".*?</section>', page, re.S)
    assert section and times[0] not in section.group(0) and times[1] in section.group(0)

    r = signed_in.post(f"{url}/remove", {"weekday": "3", "local_time": "18:00"})
    assert r.status_code == 303
    assert "Slot removed." in signed_in.get(r.headers["location"]).text
    assert slots_of(db, chans.long.id) == [(0, "09:30")]
    r = signed_in.post(f"{url}/remove", {"weekday": "3", "local_time": "18:00"})
    assert "This slot was removed already." in signed_in.get(r.headers["location"]).text


def test_a_bad_slot_is_refused_with_what_was_typed(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    url = f"/w/{workspace.id}/publishing/queue/{chans.long.id}/add"
    for form in ({"weekday": "2", "local_time": "25:99"}, {"weekday": "9", "local_time": "10:00"}):
        r = signed_in.post(url, form)
        assert r.status_code == 422
        assert "Choose a day and a time like 09:30." in r.text
    assert 'value="10:00" aria-invalid="true"' in r.text
    assert slots_of(db, chans.long.id) == []
    # A channel of another workspace is not there.
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/queue/999999/add", {"weekday": "1", "local_time": "10:00"}
    )
    assert r.status_code == 303
    assert "Not found: it does not exist" in signed_in.get(r.headers["location"]).text


# --- recurring posts -----------------------------------------------------------------------------


def recurring_form(chans: Two, **change: object) -> dict[str, object]:
    form: dict[str, object] = {
        "name": "Buongiorno del lunedì",
        "channel": [str(chans.long.id)],
        "text": "Buon lunedì da Caffè Aurora!",
        "frequency": "weekly",
        "interval": "1",
        "weekday": ["0", "4"],
        "local_time": "09:00",
        "starts_on": dt.date.today().isoformat(),
        "ends_on": "",
    }
    form.update(change)
    return form


def test_create_a_weekly_rule_see_its_occurrences_and_stop_it(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    page = signed_in.get(f"/w/{workspace.id}/publishing/recurring")
    assert page.status_code == 200 and "No recurring post yet." in page.text
    r = signed_in.post(f"/w/{workspace.id}/publishing/recurring", recurring_form(chans))
    assert r.status_code == 303, r.text
    db.expire_all()
    [rule] = db.scalars(select(RecurringPost).where(RecurringPost.workspace_id == workspace.id))
    assert (rule.frequency, rule.weekdays, rule.local_time) == ("weekly", [0, 4], "09:00")
    page = signed_in.get(r.headers["location"]).text
    assert "The recurring post is on" in page
    article = re.search(rf'<article id="recurring-{rule.id}".*?</article>', page, re.S)
    assert article
    times = re.findall(r'<time datetime="([^"]+)"', article.group(0))
    tz = ZoneInfo(workspace.timezone)
    local = [dt.datetime.fromisoformat(t).astimezone(tz) for t in times]
    assert len(local) == 5
    assert all(t.strftime("%H:%M") == "09:00" and t.weekday() in (0, 4) for t in local)
    # Its first occurrences are scheduled posts already (two weeks ahead: four of them).
    made = [p for p in posts_in(db, workspace) if p.status == "scheduled"]
    assert len(made) == 4
    assert all(f'publishing/posts/{p.id}"' in article.group(0) for p in made)

    r = signed_in.post(f"/w/{workspace.id}/publishing/recurring/{rule.id}/stop")
    assert r.status_code == 303
    assert (
        "Stopped: the posts it had scheduled are cancelled."
        in signed_in.get(r.headers["location"]).text
    )
    assert {p.status for p in posts_in(db, workspace)} == {"cancelled"}
    page = signed_in.get(f"/w/{workspace.id}/publishing/recurring").text
    assert "Stop Buongiorno del lunedì" not in page and "Stopped" in page
    r = signed_in.post(f"/w/{workspace.id}/publishing/recurring/{rule.id}/stop")
    assert "reload the page" in signed_in.get(r.headers["location"]).text  # stopped already


@pytest.mark.parametrize(
    ("change", "field_error"),
    [
        ({"channel": []}, "Choose at least one channel."),
        ({"text": "  "}, "Write the post&#39;s text."),
        ({"local_time": "9h"}, "Enter a time like 09:30."),
        ({"ends_on": "2000-01-01"}, "The end is before the start."),
        ({"month_day": "12"}, "Enter a day of the month from 1 to 31 (monthly rules only)."),
        ({"interval": "0"}, "Enter a whole number from 1 to 52."),
    ],
)
def test_a_bad_rule_is_refused_with_what_was_typed(
    db: Session,
    signed_in: Browser,
    workspace: Workspace,
    chans: Two,
    change: dict[str, object],
    field_error: str,
) -> None:
    r = signed_in.post(f"/w/{workspace.id}/publishing/recurring", recurring_form(chans, **change))
    assert r.status_code == 422
    assert field_error in r.text
    assert "Buongiorno del lunedì" in r.text  # the name typed is kept
    assert db.scalars(select(RecurringPost)).first() is None
    assert posts_in(db, workspace) == []


@pytest.mark.parametrize(
    ("frequency", "interval", "weekdays", "said"),
    [
        ("weekly", "1", ["0", "4"], "Every week: Monday, Friday,"),
        ("weekly", "2", ["0", "4"], "Every 2 weeks: Monday, Friday,"),
        ("daily", "1", [], "Every day,"),
        ("daily", "3", [], "Every 3 days,"),
        ("monthly", "2", [], "Every 2 months,"),
    ],
)
def test_a_recurring_rules_interval_is_said_with_its_unit(
    signed_in: Browser,
    workspace: Workspace,
    chans: Two,
    frequency: str,
    interval: str,
    weekdays: list[str],
    said: str,
) -> None:
    form = recurring_form(chans, frequency=frequency, interval=interval, weekday=weekdays)
    r = signed_in.post(f"/w/{workspace.id}/publishing/recurring", form)
    assert r.status_code == 303, r.text
    page = signed_in.get(f"/w/{workspace.id}/publishing/recurring").text
    article = re.search(r'<article id="recurring-\d+".*?</p>', page, re.S)
    assert article
    assert said in " ".join(article.group(0).split())
    assert "(every" not in article.group(0)  # the number alone, without its unit, is gone


def test_a_rule_whose_text_a_network_refuses_is_kept_as_drafts(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    """The engine's rule: an occurrence its network would refuse stays a draft (notified)."""
    form = recurring_form(chans, channel=[str(chans.short.id)], text="x" * 40)
    r = signed_in.post(f"/w/{workspace.id}/publishing/recurring", form)
    assert r.status_code == 303, r.text
    assert {p.status for p in posts_in(db, workspace)} == {"draft"}


# --- webhooks ------------------------------------------------------------------------------------


class Receiver:
    """A real HTTP server on 127.0.0.1 answering ``status`` and recording each request."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                receiver.requests.append(
                    ({k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                )
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok" if receiver.status < 300 else b"boom")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(204)
    yield r
    r.close()


def test_create_an_endpoint_the_secret_is_shown_once_and_a_test_event_is_signed(
    db: Session, signed_in: Browser, workspace: Workspace, receiver: Receiver
) -> None:
    page = signed_in.get(f"/w/{workspace.id}/publishing/webhooks")
    assert page.status_code == 200 and "No endpoint yet." in page.text
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/webhooks",
        {"url": receiver.url, "description": "CRM", "event": ["post.published", "post.failed"]},
    )
    assert r.status_code == 200, r.text
    secret = re.search(r'id="webhook-secret-value" type="text" readonly value="([^"]+)"', r.text)
    assert secret and secret.group(1).startswith("whsec_")
    db.expire_all()
    [endpoint] = db.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.workspace_id == workspace.id)
    )
    assert endpoint.events == ["post.failed", "post.published"]
    assert secret.group(1) not in endpoint.secret  # stored encrypted
    again = signed_in.get(f"/w/{workspace.id}/publishing/webhooks").text
    assert secret.group(1) not in again and receiver.url in again  # shown once only

    r = signed_in.post(f"/w/{workspace.id}/publishing/webhooks/{endpoint.id}/test")
    assert r.status_code == 303
    assert r.headers["location"] == f"/w/{workspace.id}/publishing/webhooks/{endpoint.id}"
    log = signed_in.get(r.headers["location"]).text
    assert "Test event delivered: the endpoint answered 204." in log
    [(headers, body)] = receiver.requests
    assert json.loads(body)["type"] == "webhook.test"
    expected = webhooks.sign(
        secret.group(1), headers["webhook-id"], int(headers["webhook-timestamp"]), body
    )
    assert headers["webhook-signature"] == expected
    row = re.search(r'<tr id="delivery-\d+" class="delivery-delivered">.*?</tr>', log, re.S)
    assert row and "webhook.test" in row.group(0) and "HTTP 204" in row.group(0)
    assert f"1 / {webhooks.MAX_ATTEMPTS}" in row.group(0)

    endpoint_id = endpoint.id
    r = signed_in.post(f"/w/{workspace.id}/publishing/webhooks/{endpoint_id}/delete")
    assert r.status_code == 303
    db.expunge_all()
    assert db.get(WebhookEndpoint, endpoint_id) is None
    assert (
        "The endpoint and its delivery log are removed."
        in signed_in.get(r.headers["location"]).text
    )


def test_a_failing_test_event_is_logged_and_retried(
    db: Session, signed_in: Browser, workspace: Workspace
) -> None:
    failing = Receiver(500)
    try:
        signed_in.post(f"/w/{workspace.id}/publishing/webhooks", {"url": failing.url})
        db.expire_all()
        [endpoint] = db.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.workspace_id == workspace.id)
        )
        r = signed_in.post(f"/w/{workspace.id}/publishing/webhooks/{endpoint.id}/test")
        log = signed_in.get(r.headers["location"]).text
    finally:
        failing.close()
    assert "Test event not delivered (boom); it will be retried." in log
    row = re.search(r'<tr id="delivery-\d+" class="delivery-pending">.*?</tr>', log, re.S)
    assert row and "HTTP 500" in row.group(0) and "next attempt" in row.group(0)
    db.expire_all()
    [delivery] = db.scalars(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    )
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    retry = db.scalars(
        select(Job).where(Job.task == webhooks.DELIVER_TASK, Job.workspace_id == workspace.id)
    ).all()
    assert [j.payload["message_id"] for j in retry] == [delivery.message_id]


def test_a_bad_endpoint_is_refused_and_only_admins_see_webhooks(
    db: Session, signed_in: Browser, owner: User, workspace: Workspace, sign_in_as: Any
) -> None:
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/webhooks",
        {"url": "ftp://example.com/x", "description": "kept"},
    )
    assert r.status_code == 422
    assert "Enter an http:// or https:// address." in r.text and 'value="kept"' in r.text
    assert db.scalars(select(WebhookEndpoint)).first() is None
    editor = add_member(db, workspace, owner, Role.editor)
    db.commit()
    browser = sign_in_as(editor)
    assert browser.get(f"/w/{workspace.id}/publishing/webhooks").status_code == 403
    r = browser.post(f"/w/{workspace.id}/publishing/webhooks", {"url": "https://example.com/"})
    assert r.status_code == 403


# --- the calendar's side list --------------------------------------------------------------------


def test_the_calendar_lists_drafts_and_approved_posts_without_a_time(
    db: Session, signed_in: Browser, owner: User, workspace: Workspace, chans: Two
) -> None:
    from dialogo.publishing import service as publishing
    from dialogo.publishing.schemas import PublishingSettingsIn

    principal = accounts.Principal.for_user(owner)
    for text in ("Bozza uno", "Da approvare"):
        r = signed_in.post(
            f"/w/{workspace.id}/publishing/posts",
            {**compose_form(chans, "Ciao!", short=False), f"text-{chans.long.id}": text},
        )
        assert r.status_code == 303
    draft, approved = sorted(posts_in(db, workspace), key=lambda p: p.id)
    publishing.update_settings(
        db, principal, workspace.id, PublishingSettingsIn(approval_required=True)
    )
    publishing.submit_post(db, principal, workspace.id, approved.id)
    publishing.approve_post(db, principal, workspace.id, approved.id, "ok")
    db.commit()
    assert approved.status == "approved"

    page = signed_in.get(f"/w/{workspace.id}/publishing/calendar").text
    aside = re.search(r'<aside id="unscheduled".*?</aside>', page, re.S)
    assert aside, page
    assert f'data-post-id="{draft.id}" draggable="true"' in aside.group(0)
    assert f'data-post-id="{approved.id}" draggable="true"' in aside.group(0)
    assert "Bozza uno" in aside.group(0) and "Da approvare" in aside.group(0)

    # Scheduling the approved one from the list (without JavaScript: a plain form).
    day = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/calendar/move",
        {"post_id": str(approved.id), "day": day, "time": "10:15", "view": "month"},
    )
    assert r.status_code == 303, r.text
    page = signed_in.get(r.headers["location"]).text
    assert f"Post #{approved.id} moved to" in page
    aside = re.search(r'<aside id="unscheduled".*?</aside>', page, re.S)
    assert aside and f'data-post-id="{approved.id}"' not in aside.group(0)
    assert f'data-post-id="{draft.id}"' in aside.group(0)
    db.expire_all()
    assert db.get(Post, approved.id).status == "scheduled"  # type: ignore[union-attr]


def test_slots_service_lists_the_next_free_slots(
    db: Session, owner: User, workspace: Workspace, chans: Two
) -> None:
    principal = accounts.Principal.for_user(owner)
    slots.set_slots(
        db,
        principal,
        workspace.id,
        chans.long.id,
        [slots.SlotIn(weekday=d, local_time="12:00") for d in range(7)],
    )
    now = dt.datetime(2027, 3, 27, 12, tzinfo=dt.UTC)  # Saturday before Europe's spring change
    found = slots.next_free_slots(db, workspace.id, chans.long.id, count=3, now=now)
    tz = ZoneInfo(workspace.timezone)
    assert [t.astimezone(tz).strftime("%a %H:%M") for t in found] == [
        "Sun 12:00",
        "Mon 12:00",
        "Tue 12:00",
    ]
    assert slots.next_free_slots(db, workspace.id, chans.short.id, now=now) == []
