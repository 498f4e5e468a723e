"""Telegram updates pushed to the channel's webhook (webhook mode, see
:mod:`dialogo.providers.telegram.provider`) into the inbox, the moment Telegram sends them.

A delivery is one ``Update`` object, sent by Telegram with the secret token the channel
registered with ``setWebhook`` in ``X-Telegram-Bot-Api-Secret-Token``: a missing or wrong
token is refused (403) before the body is read as JSON, and keeps nothing.

The update is read by the same code as the polled ones
(:meth:`TelegramProvider.read_updates`) and stored through the same ingest
(:func:`dialogo.inbox.pushed.store_pushed`: one row per remote message, ``<chat>:<message
id>``), so an update Telegram delivers twice, or that was polled before the switch to webhook
mode and pushed again after it (Telegram re-sends what ``getUpdates`` had not confirmed yet),
is stored once. An update that cannot be read is quarantined with its reason.

The ingest cursor follows the webhook: it moves to the update's ``update_id`` + 1 when that
is ahead of it, never back, so when the channel returns to polling ``getUpdates`` starts right
after what the webhook received (Telegram has forgotten those updates anyway: a delivery
answered 200 is confirmed).

:func:`webhook_health` asks Telegram (``getWebhookInfo``) how each channel's webhook is doing
— the updates waiting, the last delivery error — for the health page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import json
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.inbox import ingest
from dialogo.inbox.models import IngestCursor
from dialogo.inbox.pushed import store_pushed
from dialogo.providers.base import Credentials
from dialogo.providers.errors import ProviderError
from dialogo.providers.meta.webhook import WebhookMalformed, WebhookRejected
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.telegram import provider as telegram

NETWORK = "telegram"
SECRET_HEADER = telegram.SECRET_HEADER
#: Tries to move the cursor when concurrent deliveries move it at the same moment.
_CURSOR_TRIES = 5

__all__ = ["NETWORK", "SECRET_HEADER", "WebhookMalformed", "WebhookRejected", "store_update"]


def parse_delivery(body: bytes, secret_header: str | None, credentials: Credentials) -> Any:
    """The update of a delivery whose secret token is the channel's, else
    :class:`WebhookRejected` (:class:`WebhookMalformed` when the body is not JSON)."""
    secret = credentials.extra.get(telegram.SECRET_KEY, "")
    if not secret:
        raise WebhookRejected("this channel is not in webhook mode (no secret token is set)")
    if not secret_header or not hmac.compare_digest(secret_header.encode(), secret.encode()):
        raise WebhookRejected(f"the {SECRET_HEADER} of this delivery is not the channel's")
    try:
        return json.loads(body)
    except ValueError:
        raise WebhookMalformed("the update is not JSON") from None


def store_update(
    session: Session,
    channel: Channel,
    provider: telegram.TelegramProvider,
    update: Any,
    *,
    now: dt.datetime,
) -> ingest.IngestReport:
    """The update's messages into the inbox, an unreadable update into the quarantine, and
    the cursor past it. Flushes; the caller commits."""
    messages, problems, last = provider.read_updates([update])
    report = store_pushed(
        session,
        channel,
        [("", message) for message in messages],
        problems,
        accepts=lambda _to: True,
        foreign=lambda _to: "",
        source="Telegram webhook",
        now=now,
    )
    if last is not None:
        follow_cursor(session, channel.id, last + 1, stored=report.stored, now=now)
    return report


def follow_cursor(
    session: Session, channel_id: int, new: int, *, stored: int, now: dt.datetime
) -> None:
    """Move the channel's cursor to ``new`` unless it is already there or beyond (a
    compare-and-set, tried again when another delivery moved it meanwhile)."""
    ingest.cursor_of(session, channel_id, now=now)
    for _ in range(_CURSOR_TRIES):
        row = session.get(IngestCursor, channel_id, populate_existing=True)
        current = row.cursor if row is not None else None
        if current is not None and current.lstrip("-").isdigit() and int(current) >= new:
            return
        if ingest.advance_cursor(
            session, channel_id, previous=current, new=str(new), stored=stored, now=now
        ):
            return


# -- health: what Telegram says about each channel's webhook ------------------------------------

#: Channels asked at most per health page (each is one ``getWebhookInfo`` call).
HEALTH_LIMIT = 20


@dataclasses.dataclass(frozen=True)
class WebhookHealth:
    """A Telegram channel in webhook mode and what ``getWebhookInfo`` said about it."""

    channel_id: int
    name: str
    expected_url: str
    url: str = ""
    pending_update_count: int | None = None
    last_error_date: dt.datetime | None = None
    last_error_message: str | None = None
    #: why this needs a person (``None``: all is well)
    problem: str | None = None


def webhook_health(
    session: Session,
    workspace_id: int,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
) -> list[WebhookHealth]:
    """Ask Telegram (``getWebhookInfo``) about each working channel of the workspace in
    webhook mode: the address set, the updates waiting, the last delivery error. Nothing is
    written; a failure to ask is reported as the channel's problem."""
    if NETWORK not in registry:
        return []
    provider_cls = registry.get(NETWORK)
    channels = session.scalars(
        select(Channel)
        .where(
            Channel.workspace_id == workspace_id,
            Channel.network == NETWORK,
            Channel.status == ChannelStatus.ok.value,
        )
        .order_by(Channel.id)
    )
    out: list[WebhookHealth] = []
    for channel in channels:
        config = {k: str(v) for k, v in (channel.config or {}).items()}
        if config.get(telegram.UPDATES_FIELD, "").strip().lower() != telegram.WEBHOOK:
            continue
        if len(out) >= HEALTH_LIMIT:
            break
        credentials = cipher.decrypt(channel.credentials)
        expected = credentials.extra.get(telegram.URL_KEY, "")
        provider = provider_cls(credentials, http=http or registry.http_client(), config=config)
        try:
            if not isinstance(provider, telegram.TelegramProvider):
                raise ProviderError(f"{provider_cls.__name__} cannot read Telegram's webhook")
            info = provider.webhook_info()
        except ProviderError as exc:
            out.append(
                WebhookHealth(
                    channel.id, channel.name, expected, problem=f"could not ask Telegram: {exc}"
                )
            )
            continue
        finally:
            if http is None:
                provider.close()
        problem = None
        if not info.url:
            problem = (
                "Telegram has no webhook for this bot: Dialogo polls it instead; save the "
                "channel's settings in webhook mode again to register it"
            )
        elif expected and info.url != expected:
            problem = f"the bot's webhook points to another address ({info.url})"
        elif info.last_error_message:
            problem = f"Telegram could not deliver: {info.last_error_message}"
        out.append(
            WebhookHealth(
                channel.id,
                channel.name,
                expected,
                url=info.url,
                pending_update_count=info.pending_update_count,
                last_error_date=info.last_error_date,
                last_error_message=info.last_error_message,
                problem=problem,
            )
        )
    return out
