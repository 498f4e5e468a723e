"""The kinds of notification and their messages: one catalogue, rendered in the reader's language.

A service notifies with a ``kind`` and ``params`` (plain JSON values: names, counts, shares); the
title (and, for some kinds, the body) is a template of :data:`MESSAGES`, marked with
:func:`~dialogo.core.i18n.N_` so the catalogue extraction finds it. The English rendering is
stored in ``title``/``body`` too (what a client that ignores ``kind`` shows); the web pages, the
JSON API and the e-mails render the template again in their reader's language
(:func:`render`). A notification stored before kinds had parameters (``params`` NULL), or of a
kind this catalogue does not know, shows its stored text.

Kinds with several wordings carry a ``variant`` parameter: the template is
``MESSAGES["<kind>/<variant>"]``. A body template is given only where the body is all ours;
otherwise the stored body is shown as written (a network's own error, the note's text).
A template that counts something (a title or a body) is a :class:`~dialogo.core.i18n.Plural`
(marked with :func:`~dialogo.core.i18n.Nn_`): ``ngettext`` picks its form by the number in
``params[count]``.
A kind whose body is a post's reason (``post_failed``, ``post_unconfirmed``) carries its code
as ``reason_code`` and its parameters as ``reason_params``: the body is worded from them
(:func:`dialogo.publishing.reasons.variant_reason`); without a code, the stored body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from babel.core import UnknownLocaleError
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations

from dialogo.core import i18n
from dialogo.core.i18n import N_, Nn_
from dialogo.core.i18n import Plural as Plural
from dialogo.notifications.models import Notification
from dialogo.publishing.reasons import variant_reason


@dataclass(frozen=True)
class Message:
    title: str | Plural
    body: str | Plural | None = None  # None: the stored body, as written
    percent: tuple[str, ...] = ()  # the parameters that are shares (0.42 → "42%")


MESSAGES: dict[str, Message] = {
    # dialogo.channels.service.flag_channel (the web's channel page words these the same way)
    "channel_attention/disconnected": Message(
        N_("%(name)s (%(network)s) was disconnected by the network")
    ),
    "channel_attention/reauth_required": Message(
        N_("%(name)s (%(network)s) needs to be authorised again")
    ),
    # dialogo.inbox.telegram_webhook.check_webhooks (the stored body says what Telegram said)
    "channel_attention/telegram_webhook_url": Message(
        N_("%(name)s (%(network)s): the bot's webhook does not point to Dialogo")
    ),
    "channel_attention/telegram_webhook_failing": Message(
        N_("%(name)s (%(network)s): Telegram cannot deliver messages to Dialogo")
    ),
    # dialogo.publishing.dispatcher
    "post_failed": Message(N_("A post to %(network)s was not published")),
    "post_unconfirmed": Message(N_("A post to %(network)s may or may not have been published")),
    "first_comment_failed": Message(
        N_("The first comment of a post on %(network)s was not published")
    ),
    # dialogo.publishing.recurrence
    "recurring_post_not_scheduled": Message(N_("A recurring post (%(name)s) was not scheduled")),
    # dialogo.publishing.webhooks
    "webhook_failed": Message(
        Plural(
            Nn_(
                "A webhook to %(url)s failed %(attempts)s time",
                "A webhook to %(url)s failed %(attempts)s times",
            ),
            count="attempts",
        )
    ),
    # dialogo.inbox
    "inbox_mention": Message(N_("%(who)s mentioned you in a note")),
    "inbox_ack_missing": Message(
        N_("An acknowledgement rule uses a saved reply that no longer exists"),
        N_("No automated acknowledgement was sent. Edit the rule in the inbox rules."),
    ),
    "inbox_reply_failed/unconfirmed": Message(N_("A reply may or may not have been sent")),
    "inbox_reply_failed/failed": Message(N_("A reply on %(network)s failed")),
    "inbox_reply_failed/refused": Message(N_("A reply on %(network)s was refused")),
    "inbox_reply_failed/not_sent": Message(N_("A reply on %(network)s was not sent")),
    # dialogo.listening.service.check_alerts
    "listening.alert/volume": Message(
        N_("Mentions of “%(query)s” spiked: %(observed)s in an hour"),
        N_("Usually about %(expected)s at this hour of the week."),
    ),
    "listening.alert/negative_share": Message(
        N_("Negative mentions of “%(query)s” rose to %(observed)s"),
        N_("The usual share is %(expected)s."),
        percent=("observed", "expected"),
    ),
    # dialogo.analytics.schedules
    "report_delivery/failed": Message(
        N_("The report “%(name)s” could not be sent"),
        Plural(
            Nn_(
                "Period %(period)s, after %(attempts)s attempt: %(error)s",
                "Period %(period)s, after %(attempts)s attempts: %(error)s",
            ),
            count="attempts",
        ),
    ),
    "report_delivery/unconfirmed": Message(N_("The report “%(name)s” may not have been sent")),
}

#: The longest stored title (``notifications.title``).
MAX_TITLE = 300


class UnknownKind(ValueError):
    """``notify`` was given parameters for a kind (and variant) the catalogue lacks."""


def message_key(kind: str, params: Mapping[str, Any]) -> str:
    variant = params.get("variant")
    return f"{kind}/{variant}" if variant else kind


def message_of(kind: str, params: Mapping[str, Any]) -> Message | None:
    return MESSAGES.get(message_key(kind, params))


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str


def _values(
    message: Message,
    params: Mapping[str, Any],
    language: str,
    network_name: Callable[[str], str] | None,
) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in params.items():
        if key in message.percent and isinstance(value, int | float):
            values[key] = format_percent(value, locale=language)
        elif key == "network" and network_name is not None:
            values[key] = network_name(str(value))
        elif isinstance(value, bool) or value is None:
            values[key] = str(value)
        elif isinstance(value, int):
            values[key] = format_decimal(value, locale=language)
        elif isinstance(value, float):
            values[key] = format_decimal(round(value, 1), locale=language)
        else:
            values[key] = str(value)
    return values


def _template(
    translations: NullTranslations, template: str | Plural, params: Mapping[str, Any]
) -> str:
    """A title's or body's template in the language of ``translations`` (not filled)."""
    if isinstance(template, Plural):
        return template.translated(translations, params)
    return translations.gettext(template)


def render_params(
    kind: str,
    params: Mapping[str, Any],
    language: str,
    *,
    network_name: Callable[[str], str] | None = None,
    body: str = "",
) -> Rendered | None:
    """The title and body of a kind with these parameters in ``language`` (``body``: the stored
    body, for kinds without a body template); None when the catalogue cannot word it."""
    message = message_of(kind, params)
    if message is None:
        return None
    translations = i18n.translator(language)
    try:
        values = _values(message, params, language, network_name)
        title = _template(translations, message.title, params) % values
        if message.body is not None:
            text = _template(translations, message.body, params) % values
        else:
            text = body
        if message.body is None and params.get("reason_code"):  # a post's reason, by its code
            reason = params.get("reason_params")
            text = variant_reason(
                translations,
                str(params["reason_code"]),
                reason if isinstance(reason, Mapping) else None,
                body,
            )
    except (KeyError, ValueError, TypeError, UnknownLocaleError):  # e.g. a parameter missing
        return None
    return Rendered(title[:MAX_TITLE], text)


def render(
    notification: Notification,
    language: str,
    *,
    network_name: Callable[[str], str] | None = None,
) -> Rendered:
    """A stored notification in ``language``; its stored text when it has no parameters (an
    old row) or the catalogue cannot word it."""
    if notification.params is not None:
        rendered = render_params(
            notification.kind,
            notification.params,
            language,
            network_name=network_name,
            body=notification.body,
        )
        if rendered is not None:
            return rendered
    return Rendered(notification.title, notification.body)
