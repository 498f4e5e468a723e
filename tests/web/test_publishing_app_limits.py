"""The health page and its API show the apps waiting for a network's rate limit ("Facebook app
… limited until 14:05, 97 % of calls used") and the usage reported lately."""

from __future__ import annotations

import datetime as dt
from typing import Any

from markupsafe import escape
from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.channels import app_limits
from dialogo.channels.models import Channel
from dialogo.core import i18n
from tests.api.conftest import token_auth
from tests.web.conftest import Browser


def _channel(db: Session, workspace: Workspace, page: str, app: str) -> None:
    db.add(
        Channel(
            workspace_id=workspace.id,
            network="facebook",
            name=f"Page {page}",
            account_remote_id=page,
            account_handle=f"page{page}",
            config={"client_id": app, "page_id": page},
            credentials="not-read-here",
        )
    )


def app_section(browser: Browser, workspace: Workspace) -> str:
    """The health page's "Network rate limits of your apps" section."""
    html = browser.get(f"/w/{workspace.id}/publishing/health").text
    section = html[html.index('id="app-limits"') :]
    return section[: section.index("</section>")]


def health_api(
    db: Session,
    browser: Browser,
    workspace: Workspace,
    owner: User,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The health API's answer to a read token of ``owner``."""
    auth, _, _ = token_auth(db, owner, ["read"])
    db.commit()
    url = f"/api/v1/workspaces/{workspace.id}/publishing/health"
    answer = browser.client.get(url, headers={**auth.headers, **(headers or {})})
    found: dict[str, Any] = answer.json()
    return found


def test_health_page_and_api_show_the_apps_rate_limits(
    db: Session, signed_in: Browser, workspace: Workspace, owner: User
) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for page in ("101", "102"):
        _channel(db, workspace, page, "app-A")
    _channel(db, workspace, "201", "app-B")
    until = now + dt.timedelta(minutes=5)
    app_limits.note(
        db,
        [
            app_limits.Note("facebook", "app-A", "app", until, 97, {"call_count": 97}, "97 %"),
            app_limits.Note("facebook", "app-B", "app", None, 41, {"call_count": 41}),
            app_limits.Note("facebook", "app-other", "app", until, 100, {}),  # not ours
        ],
        now=now,
    )
    db.commit()
    section = app_section(signed_in, workspace)
    assert "app app-A" in section and "limited until" in section
    assert "97 % of calls used" in section and "2 channels" in section
    assert "app app-B" in section and "not limited" in section and "41 % of calls used" in section
    assert "app-other" not in section

    limited, other = health_api(db, signed_in, workspace, owner)["apps"]
    assert (limited["app_id"], limited["limited"], limited["used_percent"]) == ("app-A", True, 97)
    assert dt.datetime.fromisoformat(limited["until"]) == until
    assert limited["channels"] == 2 and limited["usage"] == {"call_count": 97}
    assert (other["app_id"], other["limited"], other["until"]) == ("app-B", False, None)


def test_the_reason_an_app_waits_is_worded_in_the_readers_language(
    db: Session, signed_in: Browser, workspace: Workspace, owner: User
) -> None:
    """The page words a window's reason by its code (derived from the stored text: the table
    keeps none); the API keeps the English text and gives the code and its values."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    _channel(db, workspace, "101", "app-A")
    _channel(db, workspace, "201", "app-B")
    refused = "(#4) Application request limit reached"
    until = now + dt.timedelta(minutes=5)
    app_limits.note(
        db,
        [
            app_limits.Note("facebook", "app-A", "app", until, None, {}, refused),
            app_limits.Note(
                "facebook",
                "app-B",
                "app",
                until,
                97,
                {"call_count": 97},
                i18n.english(app_limits.USAGE_REASON, {"percent": 97}),
            ),
        ],
        now=now,
    )
    db.commit()
    signed_in.post("/language", {"language": "it", "next": "/"})
    section = app_section(signed_in, workspace)
    rate_limited = "è stato raggiunto il limite di chiamate della rete"
    assert f"{rate_limited} — dettagli: {refused}" in section
    # The usage sentence is the localiser's to translate (English until then), by its code.
    usage = app_limits.app_limit_reason(i18n.translator("it"), "97 % of the app's limit used")
    assert usage.startswith("97 ") and f"— {escape(usage)}</li>" in section

    apps = health_api(db, signed_in, workspace, owner, {"Accept-Language": "it"})["apps"]
    assert [(a["app_id"], a["reason"], a["reason_code"], a["reason_params"]) for a in apps] == [
        ("app-A", refused, "rate_limited", {"detail": refused}),
        ("app-B", "97 % of the app's limit used", "app_usage_high", {"percent": 97}),
    ]
