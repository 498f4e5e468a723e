"""WhatsApp Business through the Cloud API (``graph.facebook.com/<version>/<phone-number-id>``;
Meta's docs: https://developers.facebook.com/docs/whatsapp/cloud-api).

A **messaging** channel for the inbox: nothing is "published" (``publishes=False``); the
business answers customers who wrote to it (``direct_messages=True``).

Connecting: a permanent **system user access token** of the business (Meta Business Suite →
System users, with ``whatsapp_business_messaging``), the **phone number id** (config), and for
webhooks the **app secret** (encrypted extra) and a **verify token** of our choosing
(encrypted extra). ``verify`` reads ``GET /<phone-number-id>`` (display number, verified name).

Sending: ``POST /<phone-number-id>/messages`` with JSON ``{"messaging_product": "whatsapp",
"to": <wa_id>, "type": "text", "text": {"body", "preview_url"}}`` and, to quote the message
answered, ``context.message_id``. Text holds 4,096 characters. A free-form message is only
allowed inside the **customer-service window**, 24 hours from the customer's last message;
outside it only an approved **template** may be sent (:meth:`WhatsAppProvider.send_template`).
The window is checked in ``validate`` from ``RemoteRef.extra["last_inbound_at"]`` (ISO time,
set by :func:`dialogo.providers.whatsapp.webhook.reply_target`), before any request; if the
network still refuses (error 131047, "Re-engagement message") it is an
:class:`InvalidPayload` with ``outside_window``.

Receiving: only by webhook (:mod:`dialogo.providers.whatsapp.webhook`). Errors: Meta's Graph
errors (:func:`dialogo.providers.meta.graph.error_for`) plus WhatsApp's own codes: 130429
(throughput), 131056 (pair rate limit) and 131048 (spam rate limit) → :class:`RateLimited`;
131047 → outside the window; 131026 (undeliverable) and 131051 (unsupported type) →
:class:`InvalidPayload`; 131031 (account locked) → :class:`Disconnected`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx

from dialogo.core.i18n import N_, Nn_, Plural
from dialogo.providers.base import (
    Account,
    AuthKind,
    Capabilities,
    ConnectField,
    ConnectFieldKind,
    Credentials,
    Draft,
    MediaRules,
    MessagePage,
    Provider,
    PublishResult,
    RemoteRef,
    ValidationIssue,
)
from dialogo.providers.errors import (
    Disconnected,
    InvalidPayload,
    ProviderError,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.http import send_raw
from dialogo.providers.meta.graph import GraphClient, error_for

NETWORK = "whatsapp"
TEXT_LIMIT = 4096
WINDOW = dt.timedelta(hours=24)
#: WhatsApp's own rate-limit codes, with the wait its docs suggest: throughput (130429) and a
#: pair limit (131056, "wait a few seconds" — one message every 6 s to the same number); the
#: spam limit (131048) lasts longer.
_RATE_CODES = {130429: 60.0, 131056: 6.0, 131048: 3600.0}
_INVALID_CODES = {131026: "undeliverable", 131051: "unsupported_type", 131009: "invalid_parameter"}


def window_open(last_inbound_at: str | None, now: dt.datetime) -> bool | None:
    """Whether a free-form message may be sent: ``None`` when the time is unknown."""
    if not last_inbound_at:
        return None
    try:
        last = dt.datetime.fromisoformat(last_inbound_at)
    except ValueError:
        return None
    last = last if last.tzinfo else last.replace(tzinfo=dt.UTC)
    return now - last < WINDOW


def whatsapp_error(response: httpx.Response, *, operation: str) -> ProviderError:
    """WhatsApp's own codes first, then Meta's shared Graph mapping."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    message = str((error or {}).get("message") or "")[:300]
    details: dict[str, Any] = {"network": NETWORK, "operation": operation, "graph_code": code}
    if code in _RATE_CODES:
        return RateLimited(
            f"WhatsApp rate limit ({code}: {message})", retry_after=_RATE_CODES[code], **details
        )
    if code == 131047:
        return InvalidPayload(
            "more than 24 hours have passed since the customer last wrote: only an approved "
            f"template can be sent now ({message})",
            issues=["outside_window"],
            **details,
        )
    if code in _INVALID_CODES:
        return InvalidPayload(
            f"WhatsApp refused the message ({code}: {message})",
            issues=[_INVALID_CODES[code]],
            **details,
        )
    if code == 131031:
        return Disconnected(f"the WhatsApp business account is locked: {message}", **details)
    return error_for(response, network=NETWORK, operation=operation)


class WhatsAppProvider(Provider):
    capabilities: ClassVar[Capabilities] = Capabilities(
        network=NETWORK,
        display_name="WhatsApp",
        auth=AuthKind.access_token,
        text_limit=TEXT_LIMIT,
        media=MediaRules(
            max_items=0,
            image_types=frozenset(),
            video_types=frozenset(),
            max_image_bytes=0,
            max_video_bytes=0,
            alt_text_max=None,
        ),
        threads=False,
        replies=True,
        direct_messages=True,
        metrics=False,
        publishes=False,
    )
    connect_fields: ClassVar[tuple[ConnectField, ...]] = (
        ConnectField(
            "access_token",
            "System user access token",
            secret=True,
            help="A permanent token of a system user with whatsapp_business_messaging.",
        ),
        ConnectField(
            "phone_number_id",
            "Phone number id",
            kind=ConnectFieldKind.config,
            help="WhatsApp Manager → API setup: the id of the business phone number.",
        ),
        ConnectField(
            "app_secret",
            "App secret",
            kind=ConnectFieldKind.extra,
            secret=True,
            help="Your Meta app's secret: it signs the webhook notifications.",
        ),
        ConnectField(
            "verify_token",
            "Webhook verify token",
            kind=ConnectFieldKind.extra,
            secret=True,
            help="Any long random string; type the same one in the app's webhook settings.",
        ),
    )

    def __init__(
        self,
        credentials: Credentials,
        *,
        http: httpx.Client | None = None,
        config: dict[str, str] | None = None,
    ) -> None:
        super().__init__(credentials, http=http, config=config)
        self.graph = GraphClient(
            self.http,
            credentials.access_token,
            network=NETWORK,
            base_url=self.config.get("graph_url", ""),
            version=self.config.get("graph_version", ""),
            signals=self.app_signals,
        )

    @property
    def phone_number_id(self) -> str:
        value = self.config.get("phone_number_id", "").strip()
        if not value:
            raise InvalidPayload(
                "say which WhatsApp business number to use (its phone number id)",
                issues=["phone_number_id_required"],
                network=NETWORK,
            )
        return value

    def _call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        token = self.credentials.access_token
        if not token:
            raise ReauthRequired("no WhatsApp access token: connect again", network=NETWORK)
        request = self.http.build_request(
            method,
            self.graph.url(path),
            json=json,
            params=dict(params) if params else None,
            headers={"Authorization": f"Bearer {token}"},
        )
        response = send_raw(self.http, request, network=NETWORK)
        if response.status_code >= 400:
            raise whatsapp_error(response, operation=operation)
        try:
            body = response.json()
        except ValueError:
            raise TransientError(
                f"WhatsApp answered {operation} with something that is not JSON", network=NETWORK
            ) from None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            raise whatsapp_error(response, operation=operation)
        return body if isinstance(body, dict) else {}

    # -- auth ------------------------------------------------------------------------------------

    def verify(self) -> Account:
        body = self._call(
            "GET",
            self.phone_number_id,
            operation="phone number",
            params={"fields": "display_phone_number,verified_name,quality_rating"},
        )
        number = str(body.get("display_phone_number") or self.phone_number_id)
        return Account(
            remote_id=str(body.get("id") or self.phone_number_id),
            handle=number,
            display_name=str(body.get("verified_name") or number),
        )

    # -- messages --------------------------------------------------------------------------------

    def validate(self, draft: Draft) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        if draft.reply_to is None:
            issues.append(
                ValidationIssue(
                    "no_recipient",
                    N_("WhatsApp messages answer a customer who wrote first; there are no posts"),
                    "reply_to",
                )
            )
        if draft.thread:
            issues.append(ValidationIssue("threads", N_("WhatsApp has no threads"), "thread"))
        if draft.media:
            issues.append(
                ValidationIssue(
                    "media", N_("sending media on WhatsApp is not supported yet"), "media"
                )
            )
        if not draft.text.strip():
            issues.append(ValidationIssue("empty", N_("a message needs text")))
        if len(draft.text) > TEXT_LIMIT:
            issues.append(
                ValidationIssue(
                    "too_long",
                    Plural(
                        Nn_(
                            "%(length)s character; a message holds %(text_limit)s",
                            "%(length)s characters; a message holds %(text_limit)s",
                        ),
                        count="length",
                    ),
                    params={"length": len(draft.text), "text_limit": TEXT_LIMIT},
                )
            )
        if draft.reply_to is not None:
            issues += self._window_issues(draft.reply_to, dt.datetime.now(dt.UTC))
        return issues

    @staticmethod
    def _window_issues(target: RemoteRef, now: dt.datetime) -> list[ValidationIssue]:
        if not (target.extra.get("wa_id") or target.conversation_id):
            return [ValidationIssue("no_recipient", N_("no customer number to answer"), "reply_to")]
        state = window_open(target.extra.get("last_inbound_at"), now)
        if state is None:
            return [
                ValidationIssue(
                    "window_unknown",
                    N_(
                        "when the customer last wrote is unknown, so the 24-hour window cannot "
                        "be checked: use an approved template"
                    ),
                    "reply_to",
                )
            ]
        if not state:
            return [
                ValidationIssue(
                    "outside_window",
                    N_(
                        "more than 24 hours have passed since the customer last wrote: only an "
                        "approved template can be sent"
                    ),
                    "reply_to",
                )
            ]
        return []

    def publish(self, draft: Draft) -> PublishResult:
        issues = self.validate(draft)
        if issues:
            raise InvalidPayload(
                "WhatsApp would refuse this message: " + "; ".join(i.message for i in issues),
                issues=[f"{i.field}: {i.code}" for i in issues],
                network=NETWORK,
            )
        assert draft.reply_to is not None
        target = draft.reply_to
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": target.extra.get("wa_id") or target.conversation_id,
            "type": "text",
            "text": {"body": draft.text, "preview_url": "http" in draft.text},
        }
        if target.remote_id.startswith("wamid."):
            payload["context"] = {"message_id": target.remote_id}
        return self._send(payload)

    def reply(self, target: RemoteRef, draft: Draft) -> PublishResult:
        return self.publish(Draft(text=draft.text, media=draft.media, reply_to=target))

    def recent_replies(
        self, target: RemoteRef, *, limit: int = 20, since: dt.datetime | None = None
    ) -> list[PublishResult]:
        """Never answers (``since`` changes nothing): the Cloud API lists no sent messages."""
        # Partial: the webhook's ``statuses`` name only a message id we never got when the
        # answer was lost; ``biz_opaque_callback_data`` (echoed in statuses) could carry the
        # idempotency key, but statuses are not stored yet, so nothing can be matched here.
        raise NotImplementedError(
            "the WhatsApp Cloud API cannot list the messages a business sent, so WhatsApp "
            "cannot tell whether this answer arrived"
        )

    def send_template(
        self,
        to: str,
        name: str,
        language: str,
        body_parameters: Sequence[str] = (),
    ) -> PublishResult:
        """An approved template (the only message allowed outside the 24-hour window).
        Only body text parameters are supported here."""
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if body_parameters:
            template["components"] = [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": p} for p in body_parameters],
                }
            ]
        return self._send(
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "template",
                "template": template,
            }
        )

    def _send(self, payload: dict[str, Any]) -> PublishResult:
        body = self._call(
            "POST", f"{self.phone_number_id}/messages", operation="messages", json=payload
        )
        sent = body.get("messages")
        message_id = (
            sent[0].get("id")
            if isinstance(sent, list) and sent and isinstance(sent[0], dict)
            else None
        )
        if not isinstance(message_id, str):
            raise ProviderError(
                "WhatsApp accepted the message but answered without its id",
                code="whatsapp_unexpected",
            )
        return PublishResult(
            remote_id=message_id,
            state={"to": str(payload.get("to") or ""), "type": str(payload.get("type"))},
        )

    def fetch_messages(self, since: str | None) -> MessagePage:
        """Always empty: the Cloud API has no endpoint that lists received messages; they
        arrive only as webhook notifications (:mod:`dialogo.providers.whatsapp.webhook`).
        The access token is still checked, so a revoked token flags the channel when the
        worker polls."""
        self.verify()
        return MessagePage(messages=[], cursor=since)
