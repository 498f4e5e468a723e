"""The calendar page: month and week views in the workspace's zone, moving a post with the
keyboard-friendly form (htmx or not), filters, and the ICS feed's secret address."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.models import Workspace
from dialogo.publishing.models import Post
from tests.web import test_publishing_pages as pages
from tests.web.conftest import Browser
from tests.web.test_publishing_pages import Two, compose_form, posts_in

# The same app, networks and channels as the other publishing pages' tests.
networks = pages.networks
registry = pages.registry
app = pages.app
chans = pages.chans


def schedule(browser: Browser, workspace: Workspace, chans: Two, day: dt.date, text: str) -> None:
    r = browser.post(
        f"/w/{workspace.id}/publishing/posts",
        compose_form(chans, text, action="schedule", date=day.isoformat(), time="09:00"),
    )
    assert r.status_code == 303, r.text


def local_of(post: Post, workspace: Workspace) -> dt.datetime:
    assert post.scheduled_at is not None
    return post.scheduled_at.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(workspace.timezone))


def test_month_and_week_views_show_scheduled_posts(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    day = dt.date.today() + dt.timedelta(days=3)
    schedule(signed_in, workspace, chans, day, "Colazione")
    [post] = posts_in(db, workspace)
    month = signed_in.get(f"/w/{workspace.id}/publishing/calendar?date={day.isoformat()}")
    assert month.status_code == 200, month.text
    cell = re.search(rf'<td data-day="{day.isoformat()}"[^>]*>.*?</td>', month.text, re.S)
    assert cell and f'data-post-id="{post.id}"' in cell.group(0) and "09:00" in cell.group(0)
    assert 'draggable="true"' in cell.group(0)
    assert "publishing-calendar.js" in month.text

    week = signed_in.get(f"/w/{workspace.id}/publishing/calendar?view=week&date={day.isoformat()}")
    slot = re.search(
        rf'<td data-day="{day.isoformat()}" data-hour="9"[^>]*>.*?</td>', week.text, re.S
    )
    assert slot and f'data-post-id="{post.id}"' in slot.group(0)

    other = signed_in.get(
        f"/w/{workspace.id}/publishing/calendar?date={day.isoformat()}"
        f"&channel={chans.long.id + 999}"
    )
    assert f'data-post-id="{post.id}"' not in other.text
    # Nonsense parameters fall back to this month, not to an error.
    assert (
        signed_in.get(f"/w/{workspace.id}/publishing/calendar?date=nope&view=x").status_code == 200
    )


def test_move_a_post_with_the_form_keeps_its_time(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    day = dt.date.today() + dt.timedelta(days=3)
    schedule(signed_in, workspace, chans, day, "Colazione")
    [post] = posts_in(db, workspace)
    target = day + dt.timedelta(days=2)
    r = signed_in.htmx(
        f"/w/{workspace.id}/publishing/calendar/move",
        {
            "post_id": str(post.id),
            "day": target.isoformat(),
            "view": "month",
            "date": day.isoformat(),
        },
    )
    assert r.status_code == 200, r.text
    assert r.text.lstrip().startswith('<section id="calendar"')
    assert f"Post #{post.id} moved to" in r.text
    [post] = posts_in(db, workspace)
    assert (local_of(post, workspace).date(), local_of(post, workspace).time()) == (
        target,
        dt.time(9, 0),
    )

    # Without htmx: a redirect back to the same view; a new time is taken too.
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/calendar/move",
        {"post_id": str(post.id), "day": target.isoformat(), "time": "17:45", "view": "week"},
    )
    assert r.status_code == 303 and "view=week" in r.headers["location"]
    [post] = posts_in(db, workspace)
    assert local_of(post, workspace).time() == dt.time(17, 45)


def test_a_refused_move_changes_nothing_and_says_why(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    day = dt.date.today() + dt.timedelta(days=3)
    schedule(signed_in, workspace, chans, day, "Colazione")
    [post] = posts_in(db, workspace)
    before = post.scheduled_at
    r = signed_in.htmx(
        f"/w/{workspace.id}/publishing/calendar/move",
        {"post_id": str(post.id), "day": "2001-01-01"},
    )
    assert r.status_code == 422 and "Choose a moment in the future." in r.text
    r = signed_in.htmx(
        f"/w/{workspace.id}/publishing/calendar/move", {"post_id": str(post.id), "day": "soon"}
    )
    assert r.status_code == 422 and "Choose a date and a time." in r.text
    r = signed_in.htmx(
        f"/w/{workspace.id}/publishing/calendar/move",
        {"post_id": "99999999", "day": day.isoformat()},
    )
    assert r.status_code == 404
    assert posts_in(db, workspace)[0].scheduled_at == before


def test_the_feed_address_is_shown_once_parses_and_rotates(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    day = dt.date.today() + dt.timedelta(days=3)
    schedule(signed_in, workspace, chans, day, "Colazione")
    page = signed_in.get(f"/w/{workspace.id}/publishing/calendar")
    assert "The feed is off." in page.text
    r = signed_in.post(f"/w/{workspace.id}/publishing/calendar/feed", {"action": "rotate"})
    assert r.status_code == 200
    url = re.search(r'id="feed-url" type="text" readonly value="([^"]+)"', r.text)
    assert url, r.text
    path = "/" + url.group(1).split("/", 3)[3]
    signed_in.client.cookies.clear()  # calendar apps have no session
    ics = signed_in.client.get(path)
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    [event] = icalendar.Calendar.from_ical(ics.content).walk("VEVENT")
    assert str(event["summary"]) == "Buongiorno da Caffè Aurora!"
    local = event.decoded("dtstart").astimezone(ZoneInfo(workspace.timezone))
    assert (local.date(), local.time()) == (day, dt.time(9, 0))
    assert signed_in.client.get(path.replace(".ics", "x.ics")).status_code == 404
    assert signed_in.get(f"/w/{workspace.id}/publishing/calendar").status_code == 303  # signed out
    db.expire_all()
    assert db.scalars(select(Post)).first() is not None
