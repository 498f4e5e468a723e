"""Telegram webhook mode: switching a bot channel between polling and webhook through its
settings (``setWebhook``/``deleteWebhook`` with nothing dropped), the intake
``/webhooks/telegram/{channel_id}`` (secret token checked, updates stored once, the cursor
following them), the poller leaving ``getUpdates`` alone in webhook mode, and a 409 never
flagging the channel. Telegram is :class:`FakeBotApi`, its update queue written from the Bot
API documentation."""

from __future__ import annotations

import dataclasses
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
from dialogo.inbox import poll
from dialogo.inbox.models import IngestCursor, Message, QuarantinedItem
from dialogo.providers.base import Credentials, Provider
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.telegram.provider import TelegramProvider
from dialogo.providers.telegram.testing import BOT_ID, BOT_USERNAME, TOKEN, FakeBotApi
from dialogo.server import create_app
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


def test_the_health_page_shows_what_telegram_says_of_the_webhook(
    client: TestClient,
    db: Session,
    owner: User,
    workspace: Workspace,
    bot_channel: Channel,
    telegram: FakeBotApi,
) -> None:
    assert switch(client, db, owner, bot_channel, "webhook").status_code == 200
    telegram.private_message("ciao")
    telegram.private_message("ancora")
    assert telegram.deliver(lambda _url, _body, _headers: 502) == 0  # our server was down
    browser = Browser(client)
    client.cookies.clear()
    assert browser.sign_in(owner.email).status_code == 303
    page = browser.get(f"/w/{workspace.id}/publishing/health")
    assert page.status_code == 200
    assert "Telegram webhooks" in page.text and "Bottega Rossi" in page.text
    assert "2 updates waiting" in page.text
    assert "Wrong response from the webhook: 502" in page.text
    # someone pointed the bot elsewhere: said so
    telegram.webhook_url, telegram.last_error = "https://elsewhere.example/hook", None
    page = browser.get(f"/w/{workspace.id}/publishing/health")
    assert "points to another address (https://elsewhere.example/hook)" in page.text


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
