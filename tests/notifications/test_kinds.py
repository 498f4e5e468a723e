"""Notifications worded in the reader's language: every kind of the catalogue, stored in English
with its parameters and rendered in Italian; the JSON API's ``kind``/``params`` and its title in
the language asked for; notifications stored before kinds had parameters shown as they were."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dialogo.core import i18n
from dialogo.core.context import AppContext
from dialogo.notifications import kinds
from dialogo.notifications import service as notifications
from dialogo.notifications.models import Notification
from dialogo.server import create_app
from tests.api.conftest import Api, token_auth
from tests.catalogues import stand_in
from tests.factories import make_user, make_workspace

# One notification of every wording, with what its producer passes.
SAMPLES: dict[str, dict[str, Any]] = {
    "channel_attention/disconnected": {
        "variant": "disconnected",
        "name": "Aurora",
        "network": "bluesky",
    },
    "channel_attention/reauth_required": {
        "variant": "reauth_required",
        "name": "Aurora",
        "network": "bluesky",
    },
    "channel_attention/telegram_webhook_url": {
        "variant": "telegram_webhook_url",
        "name": "Bottega",
        "network": "telegram",
    },
    "channel_attention/telegram_webhook_failing": {
        "variant": "telegram_webhook_failing",
        "name": "Bottega",
        "network": "telegram",
    },
    "post_failed": {"network": "bluesky"},
    "post_unconfirmed": {"network": "bluesky"},
    "first_comment_failed": {"network": "instagram"},
    "recurring_post_not_scheduled": {"name": "Monday tips"},
    "webhook_failed": {"url": "https://hooks.example/in", "attempts": 8},
    "inbox_mention": {"who": "Vera"},
    "inbox_ack_missing": {"saved_reply_id": 3},
    "inbox_reply_failed/unconfirmed": {"variant": "unconfirmed", "network": "matrix"},
    "inbox_reply_failed/failed": {"variant": "failed", "network": "matrix"},
    "inbox_reply_failed/refused": {"variant": "refused", "network": "matrix"},
    "inbox_reply_failed/not_sent": {"variant": "not_sent", "network": "matrix"},
    "listening.alert/volume": {
        "variant": "volume",
        "query": "Acme",
        "observed": 1234,
        "expected": 2.5,
    },
    "listening.alert/negative_share": {
        "variant": "negative_share",
        "query": "Acme",
        "observed": 0.8,
        "expected": 0.125,
    },
    "report_delivery/failed": {
        "variant": "failed",
        "name": "Monday numbers",
        "period": "2026-11-30T08:00",
        "attempts": 3,
        "error": "SMTP error 550",
    },
    "report_delivery/unconfirmed": {"variant": "unconfirmed", "name": "Monday numbers"},
}


def kind_of(key: str) -> str:
    return key.split("/", 1)[0]


def italian(message: str) -> str:
    return i18n.translator("it").gettext(message)


def test_every_wording_has_a_sample() -> None:
    assert set(SAMPLES) == set(kinds.MESSAGES)


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_each_kind_is_stored_in_english_and_shown_in_italian(db: Session, key: str) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    message = kinds.MESSAGES[key]
    n = notifications.notify(
        db, workspace.id, kind=kind_of(key), params=SAMPLES[key], body="the network said no"
    )
    db.expire(n)  # read back what the database stored
    assert n.params == SAMPLES[key] and n.kind == kind_of(key)
    english = kinds.render(n, "en")
    assert (n.title, n.body) == (english.title, english.body)
    assert n.body == ("the network said no" if message.body is None else english.body)

    # The Italian catalogue translates the template (the localiser adds new ones), and the
    # Italian reader sees that translation, filled with Italian-formatted values.
    if isinstance(message.title, kinds.Plural):
        translated = message.title.translated(i18n.translator("it"), SAMPLES[key])
        assert translated not in message.title.forms, f"{message.title!r} has no Italian yet"
    else:
        translated = italian(message.title)
        assert translated != message.title, f"{message.title!r} has no Italian translation yet"
    shown = kinds.render(n, "it")
    assert shown.title != n.title
    assert shown.title.startswith(translated.split("%(")[0])  # the translation, filled
    if isinstance(message.body, kinds.Plural):
        assert (
            message.body.translated(i18n.translator("it"), SAMPLES[key]) not in message.body.forms
        )
        assert shown.body != n.body
    elif message.body is not None:
        assert italian(message.body) != message.body
        assert shown.body != n.body
    else:
        assert shown.body == "the network said no"  # a network's own words stay as written


def test_values_are_formatted_for_the_language(db: Session) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    volume = notifications.notify(
        db, workspace.id, kind="listening.alert", params=SAMPLES["listening.alert/volume"]
    )
    share = notifications.notify(
        db, workspace.id, kind="listening.alert", params=SAMPLES["listening.alert/negative_share"]
    )
    # English: the texts the alerts had before they had parameters.
    assert volume.title == "Mentions of “Acme” spiked: 1,234 in an hour"
    assert volume.body == "Usually about 2.5 at this hour of the week."
    assert share.title == "Negative mentions of “Acme” rose to 80%"
    assert share.body == "The usual share is 12%."  # 12.5% rounds to even, as Babel does
    assert "1.234" in kinds.render(volume, "it").title
    assert "2,5" in kinds.render(volume, "it").body
    shown = kinds.render(
        notifications.notify(db, workspace.id, kind="post_failed", params={"network": "x"}),
        "en",
        network_name={"x": "X (Twitter)"}.__getitem__,
    )
    assert shown.title == "A post to X (Twitter) was not published"


@pytest.mark.parametrize(
    ("attempts", "english", "italian_text"),
    [
        (1, "Period 2026-11, after 1 attempt: 550", "Periodo 2026-11, dopo 1 tentativo: 550"),
        (3, "Period 2026-11, after 3 attempts: 550", "Periodo 2026-11, dopo 3 tentativi: 550"),
    ],
)
def test_counted_wordings_take_the_singular_or_the_plural(
    db: Session, attempts: int, english: str, italian_text: str
) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    params = {**SAMPLES["report_delivery/failed"], "period": "2026-11", "attempts": attempts}
    n = notifications.notify(
        db, workspace.id, kind="report_delivery", params=params | {"error": "550"}
    )
    assert n.body == english and kinds.render(n, "en").body == english
    assert kinds.render(n, "it").body == italian_text
    # A count that is not a number: the stored text, not a broken template.
    broken = Notification(
        kind="report_delivery", params={**params, "attempts": "many"}, title="t", body="b"
    )
    assert kinds.render(broken, "it") == kinds.Rendered("t", "b")


def test_a_counted_title_takes_the_singular_or_the_plural(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    title = kinds.MESSAGES["webhook_failed"].title
    assert isinstance(title, kinds.Plural)
    # Italian as the localiser will word it (the project's catalogue lacks it until it runs).
    standin = stand_in(
        "it",
        {
            title.forms: (
                "Un webhook verso %(url)s non è riuscito %(attempts)s volta",
                "Un webhook verso %(url)s non è riuscito %(attempts)s volte",
            )
        },
    )
    english = i18n.translator
    monkeypatch.setattr(i18n, "translator", lambda lang: standin if lang == "it" else english(lang))
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    url = "https://hooks.example/in"
    shown = {}
    for attempts in (1, 8, 0, 1200):
        n = notifications.notify(
            db, workspace.id, kind="webhook_failed", params={"url": url, "attempts": attempts}
        )
        shown[attempts] = (n.title, kinds.render(n, "en").title, kinds.render(n, "it").title)
    stem, it = f"A webhook to {url} failed", f"Un webhook verso {url} non è riuscito"
    assert shown[1] == (f"{stem} 1 time", f"{stem} 1 time", f"{it} 1 volta")
    assert shown[8] == (f"{stem} 8 times", f"{stem} 8 times", f"{it} 8 volte")
    assert shown[0] == (f"{stem} 0 times", f"{stem} 0 times", f"{it} 0 volte")
    assert shown[1200] == (f"{stem} 1,200 times", f"{stem} 1,200 times", f"{it} 1.200 volte")
    # A count that is not a number: the stored text, not a broken template.
    broken = Notification(
        kind="webhook_failed", params={"url": url, "attempts": "often"}, title="t", body="b"
    )
    assert kinds.render(broken, "it") == kinds.Rendered("t", "b")


def test_a_notification_without_params_shows_its_stored_text(db: Session) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    old = notifications.notify(
        db, workspace.id, kind="post_failed", title="A post to bluesky was not published (old)"
    )
    assert old.params is None
    for language in ("en", "it"):
        assert kinds.render(old, language) == kinds.Rendered(old.title, "")
    # Parameters an old producer did not pass: the stored text, not a broken template.
    partial = Notification(kind="webhook_failed", params={"url": "u"}, title="stored", body="b")
    assert kinds.render(partial, "it") == kinds.Rendered("stored", "b")


def test_params_must_name_a_known_wording(db: Session) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    with pytest.raises(kinds.UnknownKind):
        notifications.notify(db, workspace.id, kind="no_such_kind", params={})
    with pytest.raises(kinds.UnknownKind):
        notifications.notify(
            db, workspace.id, kind="inbox_reply_failed", params={"variant": "lost"}
        )
    with pytest.raises(ValueError, match="params"):
        notifications.notify(db, workspace.id, kind="post_failed")
    long = notifications.notify(
        db, workspace.id, kind="recurring_post_not_scheduled", params={"name": "n" * 400}
    )
    assert len(long.title) == kinds.MAX_TITLE


def test_the_api_gives_kind_params_and_the_title_in_the_language_asked_for(
    db: Session, ctx: AppContext
) -> None:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    params = SAMPLES["listening.alert/negative_share"]
    new = notifications.notify(db, workspace.id, kind="listening.alert", params=params)
    old = notifications.notify(db, workspace.id, kind="custom", title="Stored long ago")
    auth, _, _ = token_auth(db, owner, ["read"])
    url = f"/api/v1/workspaces/{workspace.id}/notifications"
    with TestClient(create_app(ctx)) as client:
        api = Api(client)
        plain = {n["id"]: n for n in api.get(url, auth=auth).json()}
        asked = {
            n["id"]: n
            for n in api.get(url, auth=auth, headers={"Accept-Language": "it-IT,it;q=0.9"}).json()
        }
    assert plain[new.id]["kind"] == "listening.alert" and plain[new.id]["params"] == params
    assert plain[new.id]["title"] == "Negative mentions of “Acme” rose to 80%"
    assert asked[new.id]["params"] == params
    assert asked[new.id]["title"] == kinds.render(new, "it").title
    assert asked[new.id]["body"] == kinds.render(new, "it").body
    assert asked[new.id]["title"] != plain[new.id]["title"]  # once the catalogue has it
    for listed in (plain, asked):
        assert listed[old.id]["params"] is None and listed[old.id]["title"] == "Stored long ago"
