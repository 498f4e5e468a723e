"""The health page and its API show the apps waiting for a network's rate limit ("Facebook app
… limited until 14:05, 97 % of calls used") and the usage reported lately."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User, Workspace
from dialogo.accounts.schemas import TokenCreate
from dialogo.channels import app_limits
from dialogo.channels.models import Channel
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
    html = signed_in.get(f"/w/{workspace.id}/publishing/health").text
    section = html[html.index('id="app-limits"') :]
    section = section[: section.index("</section>")]
    assert "app app-A" in section and "limited until" in section
    assert "97 % of calls used" in section and "2 channels" in section
    assert "app app-B" in section and "not limited" in section and "41 % of calls used" in section
    assert "app-other" not in section

    token, _ = accounts.create_api_token(
        db,
        accounts.Principal.for_user(owner),
        TokenCreate.model_validate({"name": "health", "scopes": ["read"]}),
    )
    db.commit()
    body = signed_in.client.get(
        f"/api/v1/workspaces/{workspace.id}/publishing/health",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    limited, other = body["apps"]
    assert (limited["app_id"], limited["limited"], limited["used_percent"]) == ("app-A", True, 97)
    assert dt.datetime.fromisoformat(limited["until"]) == until
    assert limited["channels"] == 2 and limited["usage"] == {"call_count": 97}
    assert (other["app_id"], other["limited"], other["until"]) == ("app-B", False, None)
