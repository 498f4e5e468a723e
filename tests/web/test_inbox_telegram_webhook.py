"""Telegram webhook mode: switching a bot channel between polling and webhook through its
settings (``setWebhook``/``deleteWebhook`` with nothing dropped), the intake
``/webhooks/telegram/{channel_id}`` (secret token checked, updates stored once, the cursor
following them), the poller leaving ``getUpdates`` alone in webhook mode, and a 409 never
flagging the channel. Telegram is :class:`FakeBotApi`, its update queue written from the Bot
API documentation."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.core.context import AppContext
from dialogo.inbox import poll, telegram_webhook
from dialogo.inbox import tasks as inbox_tasks
from dialogo.inbox.models import IngestCursor, Message, QuarantinedItem, TelegramWebhookState
from dialogo.jobs.registry import TaskRegistry
from dialogo.notifications.models import Notification
from dialogo.providers.base import Credentials, Provider
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.telegram.provider import TelegramProvider
from dialogo.providers.telegram.testing import BOT_ID, BOT_USERNAME, TOKEN, FakeBotApi
from dialogo.server import create_app
from dialogo.web import templating
from tests.api.conftest import session_auth
from tests.web.conftest import Browser

PUBLIC = "https://dialogo.example"
CHAT = "-1001234567890"


@pytest.fixture
def telegram() -> FakeBotApi:
    return FakeBotApi()


def bound_registry(
    provider_cls: type[Provider], connect: Callable[[], httpx.Client]
) -> ProviderRegistry:
    """A registry whose provider talks to a fake network (``connect()`` gives its client)
    however the code under test builds it."""

    class Bound(provider_cls):  # type: ignore[valid-type,misc]
        def __init__(self, credentials: Credentials, **kwargs: Any) -> None:
            super().__init__(credentials, http=connect(), config=kwargs.get("config"))

    return ProviderRegistry({provider_cls.capabilities.network: Bound})


def registry_for(telegram: FakeBotApi) -> ProviderRegistry:
    return bound_registry(TelegramProvider, telegram.http)


@pytest.fixture
def app(ctx: AppContext, telegram: FakeBotApi) -> FastAPI:
    settings = ctx.settings.model_copy(update={"base_url": PUBLIC})
    return create_app(dataclasses.replace(ctx, settings=settings, providers=registry_for(telegram)))


@pytest.fixture
def bot_channel(db: Session, ctx: AppContext, owner: User, workspace: Workspace) -> Channel:
    cipher = CredentialCipher.from_settings(ctx.settings)
    channel = Channel(
        workspace_id=workspace.id,
        network="telegram",
        name="Bottega Rossi",
        account_remote_id=str(BOT_ID),
        account_handle=f"@{BOT_USERNAME}",
        config={"chat_id": CHAT},
        credentials=cipher.encrypt(
            Credentials(
                access_token=TOKEN,
                account_id=str(BOT_ID),
                extra={"username": BOT_USERNAME, "chat_id": CHAT},
            )
        ),
        connected_by=owner.id,
    )
    db.add(channel)
    db.commit()
    return channel


def stored(db: Session, channel: Channel) -> list[str]:
    db.expire_all()
    return list(
        db.scalars(
            select(Message.text).where(Message.channel_id == channel.id).order_by(Message.id)
        )
    )


def cursor(db: Session, channel: Channel) -> str | None:
    db.expire_all()
    row = db.get(IngestCursor, channel.id)
    return row.cursor if row is not None else None


def extra(db: Session, ctx: AppContext, channel: Channel) -> dict[str, str]:
    db.expire_all()
    fresh = db.get(Channel, channel.id)
    assert fresh is not None
    return CredentialCipher.from_settings(ctx.settings).decrypt(fresh.credentials).extra


def run_poll(db: Session, ctx: AppContext, channel: Channel, telegram: FakeBotApi) -> Any:
    db.expire_all()
    fresh = db.get(Channel, channel.id)
    assert fresh is not None
    outcome = poll.poll_channel(
        db,
        fresh,
        registry=registry_for(telegram),
        cipher=CredentialCipher.from_settings(ctx.settings),
        now=ctx.clock.now(),
    )
    db.commit()
    return outcome


def switch(
    client: TestClient, db: Session, owner: User, channel: Channel, mode: str
) -> httpx.Response:
    """The manager changes "How messages arrive" through the channel settings API."""
    auth = session_auth(db, owner)
    db.commit()
    client.cookies.clear()
    return client.patch(
        f"/api/v1/workspaces/{channel.workspace_id}/channels/{channel.id}",
        json={"values": {"updates": mode}},
        headers=auth.headers,
    )


def pusher(client: TestClient) -> Any:
    def post(url: str, body: bytes, headers: dict[str, str]) -> int:
        assert url.startswith(PUBLIC)
        return client.post(url.removeprefix(PUBLIC), content=body, headers=headers).status_code

    return post


def methods(telegram: FakeBotApi) -> list[str]:
    return [method for method, _fields in telegram.calls]


def test_switching_modes_loses_nothing_and_stores_each_message_once(
    client: TestClient,
    db: Session,
    ctx: AppContext,
    owner: User,
    bot_channel: Channel,
    telegram: FakeBotApi,
) -> None:
    telegram.private_message("uno")
    assert run_poll(db, ctx, bot_channel, telegram).status == "ok"
    assert stored(db, bot_channel) == ["uno"]
    first_cursor = cursor(db, bot_channel)
    assert first_cursor == str(telegram.next_update_id)
    # written while the manager switches
    due = telegram.private_message("due")
    answer = switch(client, db, owner, bot_channel, "webhook")
    assert answer.status_code == 200, answer.text
    fields = {f["name"]: f for f in answer.json()["fields"]}
    assert fields["updates"]["value"] == "webhook"
    [(_method, sent)] = [c for c in telegram.calls if c[0] == "setWebhook"]
    assert sent["url"] == f"{PUBLIC}/webhooks/telegram/{bot_channel.id}"
    assert sent["drop_pending_updates"] == "false"
    assert sent["allowed_updates"] == (
        '["message","edited_message","channel_post","edited_channel_post"]'
    )
    secret = sent["secret_token"]
    assert len(secret) >= 32 and secret == extra(db, ctx, bot_channel)["webhook_secret"]
    assert secret not in answer.text
    # the poller leaves getUpdates alone now
    telegram.calls.clear()
    outcome = run_poll(db, ctx, bot_channel, telegram)
    assert outcome.status == "ok" and methods(telegram) == ["getWebhookInfo"]
    # Telegram pushes what was queued meanwhile ("uno" was confirmed by the poll's last
    # getUpdates), and re-sends an update whose answer it did not see: one row each
    assert telegram.deliver(pusher(client)) == 1, telegram.last_error
    telegram.queue.append(dict(due))
    assert telegram.deliver(pusher(client)) == 1
    assert stored(db, bot_channel) == ["uno", "due"]
    telegram.private_message("tre")
    assert telegram.deliver(pusher(client)) == 1
    assert stored(db, bot_channel) == ["uno", "due", "tre"]
    assert cursor(db, bot_channel) == str(telegram.next_update_id)
    # back to polling while "quattro" waits: deleteWebhook keeps it, the poll picks it up
    telegram.private_message("quattro")
    back = switch(client, db, owner, bot_channel, "polling")
    assert back.status_code == 200, back.text
    assert ("deleteWebhook", {"drop_pending_updates": "false"}) in telegram.calls
    assert "webhook_secret" not in extra(db, ctx, bot_channel)
    telegram.calls.clear()
    assert run_poll(db, ctx, bot_channel, telegram).status == "ok"
    polled = next(fields for method, fields in telegram.calls if method == "getUpdates")
    assert polled["offset"] == str(telegram.next_update_id - 1)  # right after "tre"
    assert stored(db, bot_channel) == ["uno", "due", "tre", "quattro"]
    db.expire_all()
    channel = db.get(Channel, bot_channel.id)
    assert channel is not None and channel.status == ChannelStatus.ok.value


def test_deliveries_without_the_secret_are_refused_and_duplicates_stored_once(
    telegram: FakeBotApi,
    bot_channel: Channel,
    client: TestClient,
    db: Session,
    ctx: AppContext,
    owner: User,
) -> None:
    url = f"/webhooks/telegram/{bot_channel.id}"
    update = telegram.private_message("ciao")
    body = httpx.Request("POST", "/", json=update).read()
    # polling mode: no secret exists, nothing is accepted
    assert client.post(url, content=body).status_code == 403
    assert switch(client, db, owner, bot_channel, "webhook").status_code == 200
    secret = extra(db, ctx, bot_channel)["webhook_secret"]
    header = "X-Telegram-Bot-Api-Secret-Token"
    assert client.post(url, content=body).status_code == 403
    assert client.post(url, content=body, headers={header: secret[:-1] + "x"}).status_code == 403
    missing = f"/webhooks/telegram/{bot_channel.id + 999}"
    assert client.post(missing, content=body, headers={header: secret}).status_code == 404
    assert stored(db, bot_channel) == []
    assert client.post(url, content=b"{nope", headers={header: secret}).status_code == 400
    # Telegram retries a delivery it did not see answered: one row
    assert client.post(url, content=body, headers={header: secret}).status_code == 200
    assert client.post(url, content=body, headers={header: secret}).status_code == 200
    assert stored(db, bot_channel) == ["ciao"]
    # an update that cannot be read is quarantined with its reason, never dropped
    broken = b'{"message": {"message_id": 5, "text": "no update id"}}'
    assert client.post(url, content=broken, headers={header: secret}).status_code == 200
    db.expire_all()
    [item] = db.scalars(select(QuarantinedItem).where(QuarantinedItem.channel_id == bot_channel.id))
    assert "Telegram webhook" in item.reason and "update_id" in item.reason


def test_webhook_mode_is_refused_without_a_public_https_address(
    ctx: AppContext, db: Session, owner: User, bot_channel: Channel, telegram: FakeBotApi
) -> None:
    for base_url in (None, "http://dialogo.example", "https://127.0.0.1", "https://x.example:9000"):
        settings = ctx.settings.model_copy(update={"base_url": base_url})
        app = create_app(
            dataclasses.replace(ctx, settings=settings, providers=registry_for(telegram))
        )
        with TestClient(app) as client:
            answer = switch(client, db, owner, bot_channel, "webhook")
        assert answer.status_code == 422, answer.text
        assert "public https address" in answer.json()["detail"]
    assert telegram.calls == [] and telegram.webhook_url == ""
    db.expire_all()
    channel = db.get(Channel, bot_channel.id)
    assert channel is not None and "updates" not in (channel.config or {})


def test_a_conflict_never_flags_the_channel(
    db: Session, ctx: AppContext, bot_channel: Channel, telegram: FakeBotApi
) -> None:
    # another program set a webhook for this bot while the channel polls
    telegram.webhook_url = "https://elsewhere.example/hook"
    telegram.private_message("ciao")
    outcome = run_poll(db, ctx, bot_channel, telegram)
    assert outcome.status == "failed" and "webhook" in outcome.detail
    db.expire_all()
    channel = db.get(Channel, bot_channel.id)
    assert channel is not None and channel.status == ChannelStatus.ok.value
    assert stored(db, bot_channel) == []
    # the webhook goes away: the next poll brings the message
    telegram.webhook_url = ""
    assert run_poll(db, ctx, bot_channel, telegram).status == "ok"
    assert stored(db, bot_channel) == ["ciao"]


def test_webhook_mode_without_a_webhook_at_telegram_polls(
    db: Session, ctx: AppContext, bot_channel: Channel, telegram: FakeBotApi
) -> None:
    """Set as webhook mode, but Telegram has none (removed by hand): poll, nothing waits."""
    bot_channel.config = {**bot_channel.config, "updates": "webhook"}
    db.commit()
    telegram.private_message("ciao")
    assert run_poll(db, ctx, bot_channel, telegram).status == "ok"
    assert methods(telegram)[:2] == ["getWebhookInfo", "getUpdates"]
    assert stored(db, bot_channel) == ["ciao"]


def test_an_unknown_mode_is_refused(
    client: TestClient, db: Session, owner: User, bot_channel: Channel, telegram: FakeBotApi
) -> None:
    answer = switch(client, db, owner, bot_channel, "push")
    assert answer.status_code == 422 and "polling" in answer.json()["detail"]
    assert telegram.calls == []
    assert db.scalar(select(func.count()).select_from(Message)) == 0


def run_check(db: Session, ctx: AppContext, telegram: FakeBotApi, now: dt.datetime) -> Any:
    """The periodic check, as its job runs it."""
    db.expire_all()  # a job's session is fresh: what the requests changed is seen
    report = telegram_webhook.check_webhooks(
        db,
        registry=registry_for(telegram),
        cipher=CredentialCipher.from_settings(ctx.settings),
        now=now,
    )
    db.commit()
    return report


def attention(db: Session, workspace: Workspace) -> list[Notification]:
    db.expire_all()
    return list(
        db.scalars(
            select(Notification).where(
                Notification.workspace_id == workspace.id,
                Notification.kind == "channel_attention",
                Notification.resolved_at.is_(None),
            )
        )
    )


def test_the_health_page_shows_what_the_periodic_check_stored(
    client: TestClient,
    db: Session,
    ctx: AppContext,
    owner: User,
    workspace: Workspace,
    bot_channel: Channel,
    telegram: FakeBotApi,
) -> None:
    assert switch(client, db, owner, bot_channel, "webhook").status_code == 200
    browser = Browser(client)
    client.cookies.clear()
    assert browser.sign_in(owner.email).status_code == 303
    health = f"/w/{workspace.id}/publishing/health"
    telegram.calls.clear()
    page = browser.get(health)
    assert "Bottega Rossi" in page.text and "not checked yet" in page.text
    telegram.private_message("ciao")
    telegram.private_message("ancora")
    assert telegram.deliver(lambda _url, _body, _headers: 502) == 0  # our server was down
    now = dt.datetime.now(dt.UTC)
    report = run_check(db, ctx, telegram, now)
    assert (report.checked, report.flagged, report.failed) == (1, 0, 0)
    state = db.get(TelegramWebhookState, bot_channel.id)
    assert state is not None and state.pending_update_count == 2
    assert state.url == f"{PUBLIC}/webhooks/telegram/{bot_channel.id}"
    assert state.last_error_message == "Wrong response from the webhook: 502"
    telegram.calls.clear()
    page = browser.get(health)
    assert page.status_code == 200
    assert telegram.calls == []  # the page never asks Telegram
    assert "Telegram webhooks" in page.text and "Bottega Rossi" in page.text
    assert "2 updates waiting" in page.text
    assert "Wrong response from the webhook: 502" in page.text
    # the API reads the same stored state
    auth = session_auth(db, owner)
    db.commit()
    client.cookies.clear()
    answer = client.get(
        f"/api/v1/workspaces/{workspace.id}/publishing/health", headers=auth.headers
    )
    assert answer.status_code == 200, answer.text
    [hook] = answer.json()["telegram_webhooks"]
    assert hook["channel_id"] == bot_channel.id and hook["pending_update_count"] == 2
    assert hook["problem"] is None and hook["checked_at"] is not None
    assert telegram.calls == []


def test_a_webhook_pointing_elsewhere_flags_the_channel_until_it_is_fixed(
    client: TestClient,
    db: Session,
    ctx: AppContext,
    owner: User,
    workspace: Workspace,
    bot_channel: Channel,
    telegram: FakeBotApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert switch(client, db, owner, bot_channel, "webhook").status_code == 200
    now = dt.datetime.now(dt.UTC)
    assert run_check(db, ctx, telegram, now).flagged == 0
    assert attention(db, workspace) == []
    ours = telegram.webhook_url
    telegram.webhook_url = "https://elsewhere.example/hook"  # another program took the bot
    assert run_check(db, ctx, telegram, now + dt.timedelta(minutes=2)).flagged == 1
    assert run_check(db, ctx, telegram, now + dt.timedelta(minutes=4)).flagged == 1
    [note] = attention(db, workspace)  # once, while it lasts
    assert note.params is not None and note.params["variant"] == "telegram_webhook_url"
    assert "Bottega Rossi" in note.title and "does not point to Dialogo" in note.title
    assert "https://elsewhere.example/hook" in note.body
    state = db.get(TelegramWebhookState, bot_channel.id)
    assert state is not None and "points to another address" in (state.problem or "")
    browser = Browser(client)
    client.cookies.clear()
    assert browser.sign_in(owner.email).status_code == 303
    page = browser.get(f"/w/{workspace.id}/publishing/health")
    assert "points to another address (https://elsewhere.example/hook)" in page.text
    # Stored as a kind with its values, worded in the reader's language where it is shown
    # (an Italian wording put in the catalogue here: the localiser's, once it has one).
    assert state.problem_code == "other_address"
    assert state.problem_params == {"url": "https://elsewhere.example/hook"}
    catalogue = templating.tr("it").catalogue.__dict__["_catalog"]
    italian = "il webhook del bot punta a un altro indirizzo (%(url)s)"
    monkeypatch.setitem(catalogue, telegram_webhook.PROBLEMS["other_address"], italian)
    browser.post("/language", {"language": "it", "next": "/"})
    page = browser.get(f"/w/{workspace.id}/publishing/health")
    assert (
        "richiede attenzione</span> il webhook del bot punta a un altro indirizzo "
        "(https://elsewhere.example/hook)" in page.text
    )
    assert "points to another address" not in page.text
    # A state stored before kinds were kept shows its stored sentence.
    state.problem, state.problem_code, state.problem_params = "an older sentence", None, None
    db.commit()
    page = browser.get(f"/w/{workspace.id}/publishing/health")
    assert "richiede attenzione</span> an older sentence" in page.text
    # fixed: the next check resolves it
    telegram.webhook_url = ours
    assert run_check(db, ctx, telegram, now + dt.timedelta(minutes=6)).flagged == 0
    assert attention(db, workspace) == []
    # back to polling: the stored state goes, nothing is asked of a polling channel
    assert switch(client, db, owner, bot_channel, "polling").status_code == 200
    telegram.calls.clear()
    assert run_check(db, ctx, telegram, now + dt.timedelta(minutes=8)).cleared == 1
    assert telegram.calls == [] and db.get(TelegramWebhookState, bot_channel.id) is None


def test_the_settings_page_offers_how_messages_arrive_as_a_list(
    client: TestClient, db: Session, owner: User, workspace: Workspace, bot_channel: Channel
) -> None:
    browser = Browser(client)
    assert browser.sign_in(owner.email).status_code == 303
    url = f"/w/{workspace.id}/channels/{bot_channel.id}/settings"
    page = browser.get(url).text
    # the same choices as the connect form: a drop-down, polling by default
    assert '<select id="channel-field-updates" name="field.updates"' in page
    assert '<option value="polling" selected>polling</option>' in page
    assert '<option value="webhook">webhook</option>' in page
    assert 'name="field.updates" type="text"' not in page
    assert switch(client, db, owner, bot_channel, "webhook").status_code == 200
    assert browser.sign_in(owner.email).status_code == 303
    page = browser.get(url).text
    assert '<option value="webhook" selected>webhook</option>' in page
    assert '<option value="polling">polling</option>' in page


def test_deliveries_failing_for_a_while_flag_the_channel(
    client: TestClient,
    db: Session,
    ctx: AppContext,
    owner: User,
    workspace: Workspace,
    bot_channel: Channel,
    telegram: FakeBotApi,
) -> None:
    assert switch(client, db, owner, bot_channel, "webhook").status_code == 200
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    telegram.private_message("ciao")
    telegram.last_error = (int(now.timestamp()) - 30, "Connection timed out")
    # one failed delivery: shown, not yet a reason to call a person
    assert run_check(db, ctx, telegram, now).flagged == 0
    state = db.get(TelegramWebhookState, bot_channel.id)
    assert state is not None and state.failing_since is not None
    assert "could not deliver: Connection timed out" in (state.problem or "")
    assert attention(db, workspace) == []
    later = now + telegram_webhook.FAILING_FOR
    telegram.last_error = (int(later.timestamp()) - 30, "Connection timed out")
    assert run_check(db, ctx, telegram, later).flagged == 1
    [note] = attention(db, workspace)
    assert note.params is not None and note.params["variant"] == "telegram_webhook_failing"
    assert "Connection timed out" in note.body
    # delivered at last: nothing waits, the flag is resolved
    telegram.queue.clear()
    assert run_check(db, ctx, telegram, later + dt.timedelta(minutes=2)).flagged == 0
    assert attention(db, workspace) == []
    db.expire_all()
    state = db.get(TelegramWebhookState, bot_channel.id)
    assert state is not None and state.failing_since is None and state.problem is None


def test_a_telegram_that_cannot_be_asked_is_said_and_flags_nothing(
    db: Session,
    ctx: AppContext,
    workspace: Workspace,
    bot_channel: Channel,
    telegram: FakeBotApi,
) -> None:
    bot_channel.config = {**bot_channel.config, "updates": "webhook"}
    db.commit()
    telegram.token = "another-bot"  # every call of ours answers 404
    report = run_check(db, ctx, telegram, dt.datetime.now(dt.UTC))
    assert (report.checked, report.failed, report.flagged) == (1, 1, 0)
    state = db.get(TelegramWebhookState, bot_channel.id)
    assert state is not None and "could not ask Telegram" in (state.problem or "")
    assert attention(db, workspace) == []


def test_the_check_is_a_periodic_job_of_the_inbox() -> None:
    tasks = TaskRegistry()
    inbox_tasks.register(tasks)
    spec = tasks.get(telegram_webhook.CHECK_TASK)
    assert spec is not None and spec.every == telegram_webhook.CHECK_EVERY


# -- webhook mode chosen on the connect form ------------------------------------------------------


def connect_form(browser: Browser, workspace: Workspace, updates: str) -> httpx.Response:
    return browser.post(
        f"/w/{workspace.id}/channels",
        {
            "network": "telegram",
            "credential.access_token": TOKEN,
            "config.chat_id": CHAT,
            "config.updates": updates,
            "name": "Bottega Rossi",
        },
        headers={"HX-Request": "true"},
    )


def connected(db: Session, workspace: Workspace) -> Channel:
    db.expire_all()
    [channel] = db.scalars(select(Channel).where(Channel.workspace_id == workspace.id))
    return channel


def test_the_connect_form_offers_the_mode_and_registers_the_webhook(
    client: TestClient,
    db: Session,
    ctx: AppContext,
    owner: User,
    workspace: Workspace,
    telegram: FakeBotApi,
) -> None:
    browser = Browser(client)
    assert browser.sign_in(owner.email).status_code == 303
    form = browser.get(f"/w/{workspace.id}/channels?network=telegram")
    assert '<select id="channel-config-updates" name="config.updates"' in form.text
    assert '<option value="polling" selected>' in form.text
    answer = connect_form(browser, workspace, "webhook")
    assert answer.status_code == 200, answer.text
    assert "is connected" in answer.text and "could not be set" not in answer.text
    channel = connected(db, workspace)
    assert channel.config["updates"] == "webhook" and channel.status == ChannelStatus.ok.value
    assert telegram.webhook_url == f"{PUBLIC}/webhooks/telegram/{channel.id}"
    assert extra(db, ctx, channel)["webhook_secret"] == telegram.secret_token
    # Telegram now pushes to the new channel
    telegram.private_message("ciao")
    assert telegram.deliver(pusher(client)) == 1
    assert stored(db, channel) == ["ciao"]


def test_a_refused_webhook_leaves_the_channel_connected_and_polling(
    ctx: AppContext,
    db: Session,
    owner: User,
    workspace: Workspace,
    telegram: FakeBotApi,
) -> None:
    settings = ctx.settings.model_copy(update={"base_url": "http://dialogo.example"})
    app = create_app(dataclasses.replace(ctx, settings=settings, providers=registry_for(telegram)))
    with TestClient(app) as client:
        browser = Browser(client)
        assert browser.sign_in(owner.email).status_code == 303
        answer = connect_form(browser, workspace, "webhook")
    assert answer.status_code == 200, answer.text
    assert "is connected" in answer.text
    assert "could not be set to webhook, so it stays polling" in answer.text
    assert "public https address" in answer.text
    channel = connected(db, workspace)
    assert channel.status == ChannelStatus.ok.value and "updates" not in channel.config
    assert "webhook_secret" not in extra(db, ctx, channel)
    assert "setWebhook" not in methods(telegram) and telegram.webhook_url == ""
    # it polls
    telegram.private_message("ciao")
    assert run_poll(db, ctx, channel, telegram).status == "ok"
    assert stored(db, channel) == ["ciao"]


def test_telegram_refusing_the_webhook_at_connect_is_said_by_the_api(
    client: TestClient,
    db: Session,
    ctx: AppContext,
    owner: User,
    workspace: Workspace,
    telegram: FakeBotApi,
) -> None:
    refusal = httpx.Response(
        400, json={"ok": False, "error_code": 400, "description": "Bad Request: bad webhook"}
    )
    telegram._setWebhook = lambda _fields: refusal  # type: ignore[method-assign]
    auth = session_auth(db, owner)
    db.commit()
    answer = client.post(
        f"/api/v1/workspaces/{workspace.id}/channels",
        json={
            "network": "telegram",
            "credentials": {"access_token": TOKEN},
            "config": {"chat_id": CHAT, "updates": "webhook"},
        },
        headers=auth.headers,
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    [notice] = body["notices"]
    assert "could not be set to webhook" in notice and "bad webhook" in notice
    assert "stays polling" in notice
    assert "updates" not in body["config"] and body["status"] == "ok"
    channel = connected(db, workspace)
    assert "webhook_secret" not in extra(db, ctx, channel)


def test_the_settings_page_switches_the_mode(
    client: TestClient,
    db: Session,
    ctx: AppContext,
    owner: User,
    workspace: Workspace,
    bot_channel: Channel,
    telegram: FakeBotApi,
) -> None:
    browser = Browser(client)
    assert browser.sign_in(owner.email).status_code == 303
    url = f"/w/{workspace.id}/channels/{bot_channel.id}/settings"
    form = browser.get(url)
    assert form.status_code == 200 and 'name="field.updates"' in form.text
    fields = {"name": "Bottega Rossi", "field.chat_id": CHAT, "field.updates": "webhook"}
    saved = browser.post(url, fields)
    assert saved.status_code in (200, 303), saved.text
    assert telegram.webhook_url == f"{PUBLIC}/webhooks/telegram/{bot_channel.id}"
    assert extra(db, ctx, bot_channel)["webhook_secret"] == telegram.secret_token
    assert browser.post(url, {**fields, "field.updates": "polling"}).status_code in (200, 303)
    assert telegram.webhook_url == "" and "webhook_secret" not in extra(db, ctx, bot_channel)
