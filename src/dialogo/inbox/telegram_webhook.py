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

:func:`check_webhooks`, a periodic job (:data:`CHECK_TASK`), asks Telegram
(``getWebhookInfo``) how each channel's webhook is doing — the address Telegram holds, the
updates waiting, the last delivery error — and stores it on the channel
(:class:`~dialogo.inbox.models.TelegramWebhookState`); a webhook pointing elsewhere, or
deliveries failing for :data:`FAILING_FOR`, notifies the team ("a channel needs attention").
:func:`webhook_health` reads the stored state for the health page and API: a slow Telegram
never slows them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.core import i18n
from dialogo.core.clock import ensure_aware
from dialogo.core.i18n import N_
from dialogo.inbox import ingest
from dialogo.inbox.models import IngestCursor, TelegramWebhookState
from dialogo.inbox.pushed import store_pushed
from dialogo.notifications import service as notifications
from dialogo.providers.base import Credentials, Provider
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


# -- health: what Telegram says about each channel's webhook, checked periodically -------------

#: The periodic check (registered by :mod:`dialogo.inbox.tasks`).
CHECK_TASK = "inbox.telegram_webhook_check"
CHECK_EVERY = dt.timedelta(minutes=2)
#: Channels asked per run (each is one ``getWebhookInfo`` call, all inside one job's lease),
#: those checked longest ago first: 600 channels an hour.
CHECK_LIMIT = 20
#: A delivery error this recent, with updates waiting, means deliveries are failing now…
RECENT_ERROR = dt.timedelta(minutes=15)
#: …and failing this long flags the channel (one failed delivery that Telegram's next try
#: fixes is not worth a person).
FAILING_FOR = dt.timedelta(minutes=10)
#: Notification variants (``channel_attention/<variant>`` in the notification kinds).
VARIANT_URL = "telegram_webhook_url"
VARIANT_FAILING = "telegram_webhook_failing"
#: Why a webhook needs a person, by kind (``TelegramWebhookState.problem_code``): templates
#: filled from ``problem_params`` in the reader's language where they are shown
#: (:meth:`WebhookHealth.problem_text`); the English sentence is stored in ``problem`` too.
PROBLEMS: dict[str, str] = {
    "no_webhook": N_(
        "Telegram has no webhook for this bot: Dialogo polls it instead; save the channel's "
        "settings in webhook mode again to register it"
    ),
    "other_address": N_("the bot's webhook points to another address (%(url)s)"),
    "failing": N_("Telegram could not deliver: %(error)s"),
    "failing_silently": N_("Telegram could not deliver (it gave no reason)"),
    "unreachable": N_("could not ask Telegram: %(error)s"),
}


def _problem(state: TelegramWebhookState, code: str | None, **params: str) -> None:
    """Store a problem's kind, parameters and English sentence (``None``: all is well)."""
    state.problem_code = code
    state.problem_params = dict(params) if code is not None else None
    state.problem = i18n.english(PROBLEMS[code], params) if code is not None else None


def attention_key(channel_id: int) -> str:
    """The dedupe key of a channel's webhook notification (open while the problem lasts)."""
    return f"channel:{channel_id}:telegram_webhook"


@dataclasses.dataclass(frozen=True)
class WebhookHealth:
    """A Telegram channel in webhook mode and what ``getWebhookInfo`` said about it at the
    last check (``checked_at`` ``None``: not checked yet)."""

    channel_id: int
    name: str
    url: str = ""
    pending_update_count: int | None = None
    last_error_date: dt.datetime | None = None
    last_error_message: str | None = None
    #: why this needs a person (``None``: all is well), in English
    problem: str | None = None
    checked_at: dt.datetime | None = None
    #: its kind (:data:`PROBLEMS`) and parameters; ``None`` on states stored before kinds
    problem_code: str | None = None
    problem_params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def problem_text(self, gettext: Callable[[str], str]) -> str | None:
        """The problem in the language of ``gettext``: its kind's template filled from its
        parameters, or the stored sentence when the kind is unknown (an older state)."""
        template = PROBLEMS.get(self.problem_code or "")
        if template is None:
            return self.problem
        return i18n.interpolate(gettext, template, self.problem_params)


@dataclasses.dataclass
class CheckReport:
    checked: int = 0
    flagged: int = 0  # channels with an open webhook notification after this run
    failed: int = 0  # Telegram could not be asked
    cleared: int = 0  # states of channels no longer in webhook mode, removed

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def _in_webhook_mode(channel: Channel) -> bool:
    mode = str((channel.config or {}).get(telegram.UPDATES_FIELD, "")).strip().lower()
    return mode == telegram.WEBHOOK


def _webhook_channels(session: Session, *, workspace_id: int | None = None) -> list[Channel]:
    query = select(Channel).where(
        Channel.network == NETWORK, Channel.status == ChannelStatus.ok.value
    )
    if workspace_id is not None:
        query = query.where(Channel.workspace_id == workspace_id)
    return [c for c in session.scalars(query.order_by(Channel.id)) if _in_webhook_mode(c)]


def _ask(
    channel: Channel,
    provider_cls: type[Provider],
    cipher: CredentialCipher,
    registry: ProviderRegistry,
    http: httpx.Client | None,
) -> tuple[str, telegram.WebhookInfo | ProviderError]:
    """(the address we registered, what Telegram says — or why it could not be asked)."""
    credentials = cipher.decrypt(channel.credentials)
    expected = credentials.extra.get(telegram.URL_KEY, "")
    config = {k: str(v) for k, v in (channel.config or {}).items()}
    provider = provider_cls(credentials, http=http or registry.http_client(), config=config)
    try:
        if not isinstance(provider, telegram.TelegramProvider):
            raise ProviderError(f"{provider_cls.__name__} cannot read Telegram's webhook")
        return expected, provider.webhook_info()
    except ProviderError as exc:
        return expected, exc
    finally:
        if http is None:
            provider.close()


def check_webhooks(
    session: Session,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    now: dt.datetime,
    http: httpx.Client | None = None,
    limit: int = CHECK_LIMIT,
) -> CheckReport:
    """The periodic check: ask Telegram (``getWebhookInfo``) about the working channels in
    webhook mode, those checked longest ago first, and store the answers
    (:class:`~dialogo.inbox.models.TelegramWebhookState`). A channel whose webhook points
    elsewhere (or nowhere), or whose deliveries keep failing (:data:`FAILING_FOR`), gets a
    "channel needs attention" notification, resolved when a later check finds it well. Every
    call to Telegram is made before the first write. Flushes; the job commits."""
    report = CheckReport()
    states = {s.channel_id: s for s in session.scalars(select(TelegramWebhookState))}
    channels = _webhook_channels(session) if NETWORK in registry else []
    wanted = {c.id for c in channels}
    for channel_id, state in states.items():  # left webhook mode, flagged or removed
        if channel_id not in wanted:
            ws = session.scalar(select(Channel.workspace_id).where(Channel.id == channel_id))
            if ws is not None:
                notifications.resolve_by_key(session, ws, attention_key(channel_id))
            session.delete(state)
            report.cleared += 1
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

    def last_checked(c: Channel) -> dt.datetime:
        state = states.get(c.id)
        return ensure_aware(state.checked_at) if state is not None else epoch

    due = sorted(channels, key=lambda c: (last_checked(c), c.id))[:limit]
    if not due:
        session.flush()
        return report
    provider_cls = registry.get(NETWORK)
    answers = [(c, *_ask(c, provider_cls, cipher, registry, http)) for c in due]
    for channel, expected, answer in answers:
        report.checked += 1
        found = states.get(channel.id)
        state = found or TelegramWebhookState(channel_id=channel.id, url="")
        if found is None:
            session.add(state)
        if isinstance(answer, ProviderError):
            report.failed += 1
            _problem(state, "unreachable", error=answer.message)
            state.checked_at = now
            # not a reason to flag: the next check asks again; an open flag stays as it was
            continue
        variant = _record(state, expected, answer, now)
        key = attention_key(channel.id)
        if variant is None:
            notifications.resolve_by_key(session, channel.workspace_id, key)
            continue
        report.flagged += 1
        notifications.notify(  # deduplicated while the previous one is open
            session,
            channel.workspace_id,
            kind="channel_attention",
            params={"variant": variant, "name": channel.name, "network": channel.network},
            body=state.problem or "",
            link=f"/w/{channel.workspace_id}/channels/{channel.id}/settings",
            dedupe_key=key,
        )
    session.flush()
    return report


def _record(
    state: TelegramWebhookState, expected: str, info: telegram.WebhookInfo, now: dt.datetime
) -> str | None:
    """Store what Telegram said; the notification variant the channel needs, if any."""
    state.url = info.url[:1000]
    state.pending_update_count = info.pending_update_count
    state.last_error_date = info.last_error_date
    state.last_error_message = info.last_error_message
    state.checked_at = now
    error_at = info.last_error_date
    failing = (
        error_at is not None
        and error_at >= now - RECENT_ERROR
        and (info.pending_update_count or 0) > 0
    )
    if not failing:
        state.failing_since = None
    elif state.failing_since is None:
        state.failing_since = now
    if not info.url:
        _problem(state, "no_webhook")
        return VARIANT_URL
    if expected and info.url != expected:
        _problem(state, "other_address", url=info.url)
        return VARIANT_URL
    if failing:
        if info.last_error_message:
            _problem(state, "failing", error=info.last_error_message)
        else:
            _problem(state, "failing_silently")
        since = ensure_aware(state.failing_since) if state.failing_since else now
        return VARIANT_FAILING if now - since >= FAILING_FOR else None
    _problem(state, None)
    return None


def webhook_health(session: Session, workspace_id: int) -> list[WebhookHealth]:
    """The workspace's working channels in webhook mode with what the last periodic check
    stored (:func:`check_webhooks`). Reads the database only: never asks Telegram."""
    channels = _webhook_channels(session, workspace_id=workspace_id)
    if not channels:
        return []
    states = {
        s.channel_id: s
        for s in session.scalars(
            select(TelegramWebhookState).where(
                TelegramWebhookState.channel_id.in_([c.id for c in channels])
            )
        )
    }
    out = []
    for channel in channels:
        state = states.get(channel.id)
        if state is None:
            out.append(WebhookHealth(channel.id, channel.name))
            continue
        out.append(
            WebhookHealth(
                channel.id,
                channel.name,
                url=state.url,
                pending_update_count=state.pending_update_count,
                last_error_date=ensure_aware(state.last_error_date)
                if state.last_error_date
                else None,
                last_error_message=state.last_error_message,
                problem=state.problem,
                checked_at=ensure_aware(state.checked_at),
                problem_code=state.problem_code,
                problem_params=dict(state.problem_params or {}),
            )
        )
    return out
