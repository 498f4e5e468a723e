"""Inbound webhooks from networks that only push (no session login: the sender proves itself).

WhatsApp Cloud API (:mod:`dialogo.providers.whatsapp.webhook`), one URL per connected channel,
``/webhooks/whatsapp/{channel_id}``, typed in the Meta app's webhook settings:

- ``GET``: Meta's subscription handshake; the ``hub.challenge`` as plain text when
  ``hub.verify_token`` is the channel's verify token, else 403.
- ``POST``: the **raw** body and ``X-Hub-Signature-256`` are checked with the channel's app
  secret (both from its encrypted credentials); a bad signature is 403 and keeps nothing, a
  signed body that is not JSON is 400. The messages are stored through the inbox ingest in the
  request (deduplicated on the message id: Meta resends what it did not see acknowledged), the
  parts the parser could not read — and messages addressed to another phone number — are
  quarantined with their reason, and the answer is an empty 200.

Delivery receipts (``statuses``) are read by the parser but not applied to the inbox's replies
yet (partial: the reply's status stays what the send returned).

Messenger and Instagram (:mod:`dialogo.providers.meta.webhook`), one URL per connected Facebook
Page or Instagram channel, ``/webhooks/meta/{channel_id}``, the same way: the handshake with
the channel's verify token; notifications checked with the app secret (``app_secret``, else
the ``client_secret`` it was connected with), a bad signature 403 with nothing kept; direct
messages, comments and answers stored through the inbox ingest at once
(:mod:`dialogo.inbox.meta_webhook`, deduplicated with what polling reads), echoes of our own
messages ignored, unreadable parts quarantined with their reason. Threads channels use the
same URL and handshake (their own verify token; signed with the Threads app secret): replies
and mentions (:mod:`dialogo.providers.threads.webhook`) are stored at once, one named only by
id is fetched by a job (:mod:`dialogo.inbox.threads_webhook`).

X's Account Activity API (:mod:`dialogo.providers.x.webhook`), one URL per connected X
channel, ``/webhooks/x/{channel_id}``: ``GET ?crc_token=…`` is answered with the JSON
``response_token`` computed with the channel's consumer secret (403 without one); deliveries
are checked against ``x-twitter-webhooks-signature`` with the same secret (403 and nothing kept
when wrong, 400 for a signed body that is not JSON); mentions, replies and direct messages are
stored through the inbox ingest (:mod:`dialogo.inbox.x_webhook`, deduplicated with what polling
reads), the account's own posts and messages ignored, deliveries for another user and
unreadable parts quarantined with their reason.

Telegram bots in webhook mode (:mod:`dialogo.inbox.telegram_webhook`), one URL per channel,
``/webhooks/telegram/{channel_id}``, registered by Dialogo itself with ``setWebhook`` when a
manager switches the channel's "How messages arrive" setting: each delivery must carry the
channel's secret token in ``X-Telegram-Bot-Api-Secret-Token`` (compared in constant time; 403
and nothing kept otherwise, 400 for a body that is not JSON); the update is stored through
the inbox ingest like a polled one, and the cursor follows it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.orm import Session

from dialogo.api.deps import Ctx, Db
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.core.context import AppContext
from dialogo.inbox import ingest, meta_webhook, telegram_webhook, threads_webhook, x_webhook
from dialogo.inbox.pushed import store_pushed
from dialogo.providers.base import Credentials
from dialogo.providers.meta import webhook as meta
from dialogo.providers.telegram.provider import TelegramProvider
from dialogo.providers.threads import webhook as threads_hook
from dialogo.providers.whatsapp import webhook as whatsapp
from dialogo.providers.x import webhook as x_activity

router = APIRouter(include_in_schema=False)

#: Meta's notifications are small; anything larger is refused before it is read whole.
MAX_BODY = 1024 * 1024


def _webhook_channel(
    session: Session, ctx: AppContext, channel_id: int, networks: Collection[str]
) -> tuple[Channel, Credentials] | None:
    """The channel (of one of ``networks``) a webhook names, with its decrypted credentials."""
    channel = session.get(Channel, channel_id)
    if channel is None or channel.network not in networks:
        return None
    return channel, CredentialCipher.from_settings(ctx.settings).decrypt(channel.credentials)


async def _body(request: Request) -> bytes | None:
    """The request's body, or ``None`` when it is larger than :data:`MAX_BODY` (refused
    before it is read whole when the client says its length)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        return None
    body = await request.body()
    return body if len(body) <= MAX_BODY else None


async def _delivery(
    request: Request, session: Session, ctx: AppContext, channel_id: int, networks: Collection[str]
) -> tuple[Channel, Credentials, bytes] | Response:
    """The channel a delivery is for, its credentials and the body; or the answer refusing
    it (413 too large, 404 unknown channel)."""
    body = await _body(request)
    if body is None:
        return PlainTextResponse("too large", status_code=413)
    found = _webhook_channel(session, ctx, channel_id, networks)
    if found is None:
        return PlainTextResponse("unknown channel", status_code=404)
    return (*found, body)


@router.get("/webhooks/whatsapp/{channel_id}")
def whatsapp_verify(channel_id: int, request: Request, session: Db, ctx: Ctx) -> Response:
    found = _webhook_channel(session, ctx, channel_id, ("whatsapp",))
    if found is None:
        return PlainTextResponse("unknown channel", status_code=403)
    _channel, credentials = found
    try:
        challenge = whatsapp.verification_challenge(
            dict(request.query_params), credentials.extra.get("verify_token", "")
        )
    except whatsapp.WebhookRejected as exc:
        return PlainTextResponse(str(exc), status_code=403)
    return PlainTextResponse(challenge)


@router.post("/webhooks/whatsapp/{channel_id}")
async def whatsapp_notify(channel_id: int, request: Request, session: Db, ctx: Ctx) -> Response:
    body = await _body(request)
    if body is None:
        return PlainTextResponse("too large", status_code=413)
    found = _webhook_channel(session, ctx, channel_id, ("whatsapp",))
    if found is None:
        return PlainTextResponse("unknown channel", status_code=404)
    channel, credentials = found
    try:
        batch = whatsapp.parse_notification(
            body,
            request.headers.get(whatsapp.SIGNATURE_HEADER),
            credentials.extra.get("app_secret", ""),
        )
    except whatsapp.WebhookRejected as exc:  # WebhookMalformed (400) is a subclass
        return PlainTextResponse(str(exc), status_code=exc.status)
    store_batch(session, channel, batch, now=ctx.clock.now())
    return Response(status_code=200)


def store_batch(
    session: Session, channel: Channel, batch: whatsapp.WebhookBatch, *, now: Any
) -> ingest.IngestReport:
    """The batch's messages for this channel's phone number into the inbox; the rest (other
    numbers, unreadable parts) into the quarantine with the reason. Flushes; the request
    commits."""
    phone_id = str((channel.config or {}).get("phone_number_id") or "")
    return store_pushed(
        session,
        channel,
        batch.messages,
        batch.problems,
        accepts=lambda to: not phone_id or to == phone_id,
        foreign=lambda to: (
            f"a WhatsApp message for phone number {to}, not this channel's ({phone_id})"
        ),
        source="WhatsApp webhook",
        now=now,
    )


#: The Meta intake serves Facebook Pages, Instagram and Threads channels (one URL per channel;
#: the channel's network says which parser reads the body).
META_INTAKE = meta_webhook.NETWORKS | {threads_webhook.NETWORK}


@router.get("/webhooks/meta/{channel_id}")
def meta_verify(channel_id: int, request: Request, session: Db, ctx: Ctx) -> Response:
    found = _webhook_channel(session, ctx, channel_id, META_INTAKE)
    if found is None:
        return PlainTextResponse("unknown channel", status_code=403)
    _channel, credentials = found
    try:
        challenge = meta.verification_challenge(
            dict(request.query_params), credentials.extra.get("verify_token", "")
        )
    except meta.WebhookRejected as exc:
        return PlainTextResponse(str(exc), status_code=403)
    return PlainTextResponse(challenge)


@router.post("/webhooks/meta/{channel_id}")
async def meta_notify(channel_id: int, request: Request, session: Db, ctx: Ctx) -> Response:
    incoming = await _delivery(request, session, ctx, channel_id, META_INTAKE)
    if isinstance(incoming, Response):
        return incoming
    channel, credentials, body = incoming
    signature = request.headers.get(meta.SIGNATURE_HEADER)
    secret = meta_webhook.app_secret(credentials)
    batch: meta.PageBatch | threads_hook.ThreadsBatch
    try:
        if channel.network == threads_webhook.NETWORK:  # signed with the Threads app secret
            batch = threads_hook.parse_threads_notification(
                body, signature, secret, username=channel.account_handle
            )
        else:
            batch = meta.parse_page_notification(body, signature, secret, network=channel.network)
    except meta.WebhookRejected as exc:  # WebhookMalformed (400) is a subclass
        return PlainTextResponse(str(exc), status_code=exc.status)
    if isinstance(batch, threads_hook.ThreadsBatch):
        threads_webhook.store_batch(session, channel, credentials, batch, now=ctx.clock.now())
    else:
        meta_webhook.store_batch(session, channel, credentials, batch, now=ctx.clock.now())
    return Response(status_code=200)


@router.get("/webhooks/x/{channel_id}")
def x_crc(channel_id: int, request: Request, session: Db, ctx: Ctx) -> Response:
    found = _webhook_channel(session, ctx, channel_id, (x_webhook.NETWORK,))
    if found is None:
        return PlainTextResponse("unknown channel", status_code=403)
    _channel, credentials = found
    try:
        answer = x_activity.crc_response(
            request.query_params.get("crc_token", ""), x_webhook.consumer_secret(credentials)
        )
    except x_activity.WebhookRejected as exc:  # WebhookMalformed (400) is a subclass
        return PlainTextResponse(str(exc), status_code=exc.status)
    return JSONResponse(answer)


@router.post("/webhooks/x/{channel_id}")
async def x_notify(channel_id: int, request: Request, session: Db, ctx: Ctx) -> Response:
    body = await _body(request)
    if body is None:
        return PlainTextResponse("too large", status_code=413)
    found = _webhook_channel(session, ctx, channel_id, (x_webhook.NETWORK,))
    if found is None:
        return PlainTextResponse("unknown channel", status_code=404)
    channel, credentials = found
    try:
        batch = x_activity.parse_activity(
            body,
            request.headers.get(x_activity.SIGNATURE_HEADER),
            x_webhook.consumer_secret(credentials),
        )
    except x_activity.WebhookRejected as exc:  # WebhookMalformed (400) is a subclass
        return PlainTextResponse(str(exc), status_code=exc.status)
    x_webhook.store_batch(session, channel, credentials, batch, now=ctx.clock.now())
    return Response(status_code=200)


@router.post("/webhooks/telegram/{channel_id}")
async def telegram_notify(channel_id: int, request: Request, session: Db, ctx: Ctx) -> Response:
    incoming = await _delivery(request, session, ctx, channel_id, (telegram_webhook.NETWORK,))
    if isinstance(incoming, Response):
        return incoming
    channel, credentials, body = incoming
    try:
        update = telegram_webhook.parse_delivery(
            body, request.headers.get(telegram_webhook.SECRET_HEADER), credentials
        )
    except telegram_webhook.WebhookRejected as exc:  # WebhookMalformed (400) is a subclass
        return PlainTextResponse(str(exc), status_code=exc.status)
    config = {k: str(v) for k, v in (channel.config or {}).items()}
    provider = TelegramProvider(credentials, http=ctx.providers.http_client(), config=config)
    try:
        telegram_webhook.store_update(session, channel, provider, update, now=ctx.clock.now())
    finally:
        provider.close()
    return Response(status_code=200)
