"""Telegram through the Bot API: a bot that posts to a channel (or group) and answers the
people who write to it.

Connecting: the bot token @BotFather gave (``access_token``, secret) and the chat to post to
(``config["chat_id"]``: ``@channelusername``, a ``t.me`` link, or a numeric id such as
``-1001234567890``). :meth:`TelegramProvider.verify` calls ``getMe``, then ``getChat`` and
``getChatMember`` on that chat: in a channel the bot must be an administrator allowed to post
messages (else :class:`InsufficientScopes` with a message saying so), a chat that does not
exist or that the bot cannot see gives :class:`Disconnected`. After ``verify`` the
credentials also hold the bot's id (``account_id``), its ``@username`` and the chat's numeric
id (``extra``), which the caller stores. The connected account is the bot (its id is the
channel's ``remote_id``): one bot serves one Dialogo channel, because the updates a bot
receives can be read by one poller only (``getUpdates`` confirms what it returned).

What maps to what:

- a **post** is ``sendMessage`` (text), ``sendPhoto`` (one image, the text as its caption) or
  ``sendMediaGroup`` (an album of 2–10 images, the caption on the first); files are uploaded
  as multipart bytes. Text is sent without ``parse_mode``, so nothing is parsed away and the
  length counted by :meth:`~TelegramProvider.validate` is the length Telegram counts: 4096
  UTF-16 code units for a message, 1024 for a caption. Telegram photos have no alt text: a
  media's ``alt_text`` is not sent. Only JPEG and PNG images up to 10 MB (``sendPhoto``'s
  limit) are accepted; videos, GIF animations and documents are not supported yet;
- a **reply** is a message in the target's chat with ``reply_parameters.message_id``;
  Telegram has no threads, so a draft with a ``thread`` is rejected by ``validate``;
- ``remote_id`` is ``"<chat id>:<message id>"`` (message ids are only unique within a chat)
  and ``conversation_id`` the chat id; an album's result names its first message, the others
  are in ``state["message_ids"]``;
- **inbound** messages come from ``getUpdates`` (short polling, ``timeout=0``: never waits)
  with ``offset`` = the cursor, which is the last ``update_id`` + 1 (asking with it confirms
  the earlier updates to Telegram, which then forgets them): a message in a **private** chat
  is ``direct``; in a group, a message answering one of the bot's messages is a ``reply``, one
  answering a post of the configured channel automatically forwarded into its discussion
  group is a ``comment``; a message (or channel post) naming the bot (an ``@username``
  mention, a ``text_mention`` or a ``/command@username``) is a ``mention``; everything else
  is ignored. Edited messages come again with the same ``remote_id`` and ``raw["edited"]``.
  With privacy mode on (the default, changed in @BotFather) a bot in a group only receives
  commands and replies to its own messages, not plain mentions;
- **not available in the Bot API**: a channel's history (:meth:`recent_posts` raises
  ``NotImplementedError``: reconciling a send whose outcome is unknown must rely on the
  idempotency the dispatcher stores, as Telegram has no idempotency key either), view counts
  and reactions of channel posts (``metrics=False``: a bot is never told how many people saw
  a post), and search.

**Webhook mode** (``config["updates"] = "webhook"``; the default is ``polling``): Telegram
hands a bot's updates either to ``getUpdates`` or to a webhook, never both (``getUpdates``
answers 409 while a webhook is set). Switching the setting (:meth:`apply_settings`) calls
``setWebhook`` with ``<public https address>/webhooks/telegram/<channel id>``, a random
``secret_token`` (Telegram sends it back in ``X-Telegram-Bot-Api-Secret-Token``; kept in
``extra["webhook_secret"]``), the same ``allowed_updates`` polling asks for and
``drop_pending_updates=false``; switching back calls ``deleteWebhook``, again without
dropping, and polling resumes from the stored cursor (updates the webhook already received
are confirmed, so nothing comes twice and nothing queued is lost). In webhook mode
:meth:`fetch_messages` asks ``getWebhookInfo`` instead of ``getUpdates``; only when Telegram
says no webhook is set (removed by hand) does it poll, so nothing waits unseen. Updates
pushed to the webhook are read by :meth:`read_updates`, the same code as polled ones.

Nothing here sleeps or retries: flood-control answers become :class:`RateLimited` with
Telegram's ``retry_after`` (see :mod:`dialogo.providers.telegram.client`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
import secrets
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx

from dialogo.core.errors import InvalidInput
from dialogo.core.i18n import N_, Nn_, Plural
from dialogo.providers.base import (
    Account,
    AuthKind,
    Author,
    Capabilities,
    ConnectField,
    ConnectFieldKind,
    Credentials,
    Draft,
    InboundMessage,
    MediaRules,
    MessageKind,
    MessagePage,
    Provider,
    PublishResult,
    RecentPosts,
    RemoteRef,
    TextCounting,
    ValidationIssue,
)
from dialogo.providers.errors import InsufficientScopes, InvalidPayload
from dialogo.providers.telegram.client import DEFAULT_BASE_URL, NETWORK, TelegramClient

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
MAX_ALBUM = 10
MAX_PHOTO_BYTES = 10 * 1024 * 1024
#: How many updates one ``getUpdates`` returns at most (the API's maximum).
UPDATES_LIMIT = 100
ALLOWED_UPDATES = ("message", "edited_message", "channel_post", "edited_channel_post")
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}
_MESSAGE_KEYS = {
    "message": False,
    "edited_message": True,
    "channel_post": False,
    "edited_channel_post": True,
}
_LINK = re.compile(r"^(?:https?://)?(?:www\.)?(?:t|telegram)\.me/([A-Za-z0-9_]{4,})/?$")
#: The channel setting that says how updates arrive, and its values.
UPDATES_FIELD = "updates"
POLLING = "polling"
WEBHOOK = "webhook"
#: Where the webhook's secret token and the address it was registered at are kept (extra).
SECRET_KEY = "webhook_secret"  # noqa: S105 - a key name, not a secret
URL_KEY = "webhook_url"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
#: The only ports Telegram delivers webhooks to (setWebhook's documentation).
WEBHOOK_PORTS = (443, 80, 88, 8443)


def utf16_length(text: str) -> int:
    """Telegram's length: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def utf16_slice(text: str, offset: int, length: int) -> str:
    """The part of ``text`` an entity's ``offset``/``length`` (UTF-16 code units) covers."""
    units = text.encode("utf-16-le")
    return units[offset * 2 : (offset + length) * 2].decode("utf-16-le", errors="replace")


def normalise_chat_id(value: str) -> str:
    """``@name``, ``name``, ``https://t.me/name`` → ``@name``; numeric ids stay as they are."""
    value = value.strip()
    match = _LINK.match(value)
    if match:
        return "@" + match.group(1)
    if re.fullmatch(r"-?\d+", value) or value.startswith("@") or not value:
        return value
    return "@" + value


def split_remote_id(ref: RemoteRef) -> tuple[str, int]:
    """(chat id, message id) of a ``"<chat>:<message>"`` reference."""
    chat, _, message = ref.remote_id.rpartition(":")
    chat = chat or (ref.conversation_id or "")
    try:
        message_id = int(message)
    except ValueError:
        raise InvalidPayload(
            f"{ref.remote_id!r} is not a Telegram message reference", issues=["reply_to"]
        ) from None
    if not chat:
        raise InvalidPayload(
            f"{ref.remote_id!r} does not say which chat the message is in", issues=["reply_to"]
        )
    return chat, message_id


def message_url(chat: Mapping[str, Any], message_id: object) -> str | None:
    """The ``t.me`` link of a message in a public chat, or in a channel or supergroup (for
    its members); ``None`` in private chats and basic groups, which have no links."""
    username = chat.get("username")
    if isinstance(username, str) and username and chat.get("type") != "private":
        return f"https://t.me/{username}/{message_id}"
    chat_id = str(chat.get("id", ""))
    if chat_id.startswith("-100"):
        return f"https://t.me/c/{chat_id[4:]}/{message_id}"
    return None


def updates_mode(value: object) -> str:
    """``polling`` or ``webhook`` from the channel setting (empty: polling), else
    :class:`InvalidInput`."""
    mode = str(value or "").strip().lower() or POLLING
    if mode not in (POLLING, WEBHOOK):
        raise InvalidInput(
            f"how updates arrive must be {POLLING!r} or {WEBHOOK!r}, not {str(value)[:40]!r}",
            code="invalid_updates_mode",
        )
    return mode


def webhook_url(public_url: str | None, channel_id: int) -> str:
    """The intake address Telegram pushes this channel's updates to, or :class:`InvalidInput`
    when Dialogo's public address cannot receive them (Telegram needs https on a public host,
    on port 443, 80, 88 or 8443)."""
    base = (public_url or "").strip().rstrip("/")
    parts = urllib.parse.urlsplit(base)
    host = (parts.hostname or "").lower()
    why = ""
    if parts.scheme != "https" or not host:
        why = "it is not an https address"
    elif host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        why = "its host is not reachable from the internet"
    else:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None and not address.is_global:
            why = "its host is not reachable from the internet"
        elif (parts.port or 443) not in WEBHOOK_PORTS:
            why = "Telegram delivers webhooks only to ports 443, 80, 88 and 8443"
    if why:
        raise InvalidInput(
            "webhook mode needs Dialogo's public https address (DIALOGO_BASE_URL), which "
            f"Telegram calls; {base or 'none'!r} cannot be used: {why}. Keep polling, or set "
            "DIALOGO_BASE_URL to the public https address first",
            code="no_public_url",
        )
    return f"{base}/webhooks/telegram/{channel_id}"


@dataclasses.dataclass(frozen=True)
class WebhookInfo:
    """What ``getWebhookInfo`` says: the address set (empty: none, the bot is polled), how
    many updates wait to be delivered, and the last delivery error."""

    url: str
    pending_update_count: int
    last_error_date: dt.datetime | None = None
    last_error_message: str | None = None


@dataclasses.dataclass(frozen=True)
class UpdateProblem:
    """An update that could not be read (quarantined by the webhook intake)."""

    where: str
    reason: str
    raw: Any = None
    remote_id: str | None = None


def _author(message: Mapping[str, Any]) -> Author:
    sender_chat = message.get("sender_chat")
    if isinstance(sender_chat, dict):  # sent on behalf of a channel or an anonymous admin
        username = sender_chat.get("username")
        title = str(sender_chat.get("title") or username or sender_chat.get("id"))
        return Author(
            remote_id=str(sender_chat.get("id")),
            handle=f"@{username}" if username else title,
            display_name=title,
        )
    user = message.get("from")
    if isinstance(user, dict):
        username = user.get("username")
        name = " ".join(
            str(part) for part in (user.get("first_name"), user.get("last_name")) if part
        )
        return Author(
            remote_id=str(user.get("id")),
            handle=f"@{username}" if username else (name or str(user.get("id"))),
            display_name=name,
        )
    chat = message.get("chat") or {}
    return Author(remote_id=str(chat.get("id")), handle=str(chat.get("title") or chat.get("id")))


class TelegramProvider(Provider):
    """One bot posting to one chat (``config["chat_id"]``)."""

    capabilities = Capabilities(
        network=NETWORK,
        display_name="Telegram",
        auth=AuthKind.bot_token,
        text_limit=TEXT_LIMIT,
        text_counting=TextCounting.utf16,
        media=MediaRules(
            max_items=MAX_ALBUM,
            image_types=frozenset(_EXTENSIONS),
            video_types=frozenset(),
            max_image_bytes=MAX_PHOTO_BYTES,
            alt_text_max=None,
        ),
        threads=False,
        replies=True,
        direct_messages=True,
        metrics=False,  # the Bot API gives bots no view counts or reactions totals
        search=False,
    )
    connect_fields: ClassVar[tuple[ConnectField, ...]] = (
        ConnectField(
            "access_token",
            "Bot token",
            secret=True,
            help=(
                "The token @BotFather gave when the bot was created, e.g. "
                "123456789:AAH…; add the bot to the channel as an administrator allowed "
                "to post messages."
            ),
        ),
        ConnectField(
            "chat_id",
            "Channel or chat",
            kind=ConnectFieldKind.config,
            help="Where posts are published: @channelusername, or a numeric id such as "
            "-1001234567890 for a private channel or group.",
        ),
        ConnectField(
            UPDATES_FIELD,
            "How messages arrive",
            kind=ConnectFieldKind.config,
            required=False,
            choices=(POLLING, WEBHOOK),
            help="polling (the default: Dialogo asks Telegram every minute) or webhook "
            "(Telegram pushes each message at once to /webhooks/telegram/<channel id>; "
            "needs DIALOGO_BASE_URL to be Dialogo's public https address).",
        ),
    )
    applied_fields: ClassVar[tuple[tuple[str, str], ...]] = ((UPDATES_FIELD, POLLING),)

    def __init__(
        self,
        credentials: Credentials,
        *,
        http: httpx.Client | None = None,
        config: dict[str, str] | None = None,
    ) -> None:
        super().__init__(credentials, http=http, config=config)
        self._me: dict[str, Any] | None = None

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def client(self) -> TelegramClient:
        return TelegramClient(
            self.http,
            self.credentials.access_token or "",
            base_url=self.config.get("api_url") or DEFAULT_BASE_URL,
        )

    @property
    def chat_id(self) -> str:
        return normalise_chat_id(self.config.get("chat_id") or "")

    def _own_chat(self, chat: str) -> bool:
        return chat in {self.chat_id, self.credentials.extra.get("chat_id", self.chat_id)}

    def _bot(self) -> tuple[str, str]:
        """(bot id, lower-case username), from the stored credentials or ``getMe`` once."""
        bot_id = self.credentials.account_id or ""
        username = self.credentials.extra.get("username", "")
        if not (bot_id and username):
            if self._me is None:
                me = self.client.call("getMe")
                self._me = me if isinstance(me, dict) else {}
            bot_id = str(self._me.get("id", bot_id))
            username = str(self._me.get("username") or username)
        return bot_id, username.lstrip("@").lower()

    # -- auth ------------------------------------------------------------------------------------

    def verify(self) -> Account:
        client = self.client
        me = client.call("getMe")
        if not isinstance(me, dict) or not me.get("is_bot", True):
            raise InvalidPayload("this token does not belong to a bot", network=NETWORK)
        self._me = me
        bot_id, username = str(me.get("id")), str(me.get("username") or "")
        extra = {"username": username}
        chat: dict[str, Any] = {}
        chat_id = self.chat_id
        if chat_id:
            found = client.call("getChat", {"chat_id": chat_id}, chat_id=chat_id)
            chat = found if isinstance(found, dict) else {}
            self._check_can_post(client, chat_id, chat, bot_id)
            extra["chat_id"] = str(chat.get("id", chat_id))
        self.credentials = Credentials(
            access_token=self.credentials.access_token,
            refresh_token=self.credentials.refresh_token,
            expires_at=self.credentials.expires_at,
            account_id=bot_id,
            extra={**self.credentials.extra, **extra},
        )
        chat_username = chat.get("username")
        title = str(chat.get("title") or me.get("first_name") or username)
        return Account(
            remote_id=bot_id,
            handle=f"@{username}" if username else bot_id,
            display_name=title,
            url=f"https://t.me/{chat_username or username}" if chat_username or username else None,
        )

    def _check_can_post(
        self, client: TelegramClient, chat_id: str, chat: Mapping[str, Any], bot_id: str
    ) -> None:
        kind = chat.get("type")
        if kind == "private":
            return
        member = client.call(
            "getChatMember", {"chat_id": chat_id, "user_id": bot_id}, chat_id=chat_id
        )
        status = member.get("status") if isinstance(member, dict) else None
        name = str(chat.get("title") or chat_id)
        if kind == "channel":
            if status == "creator" or (
                status == "administrator" and member.get("can_post_messages")
            ):
                return
            raise InsufficientScopes(
                f"the bot is not allowed to post in the channel {name}: make it an "
                "administrator of the channel with the right to post messages",
                missing=["can_post_messages"],
                network=NETWORK,
            )
        if status in ("left", "kicked") or (
            status == "restricted" and not member.get("can_send_messages", True)
        ):
            raise InsufficientScopes(
                f"the bot cannot write in {name}: add it to the group (status: {status})",
                missing=["can_send_messages"],
                network=NETWORK,
            )

    # -- content ---------------------------------------------------------------------------------

    def validate(self, draft: Draft) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        length = utf16_length(draft.text)
        if draft.media:
            if length > CAPTION_LIMIT:
                issues.append(
                    ValidationIssue(
                        "caption_too_long",
                        Plural(
                            Nn_(
                                "a caption is %(length)s character (UTF-16 code units); Telegram "
                                "allows %(caption_limit)s under photos: shorten it or post the "
                                "text as its own message",
                                "a caption is %(length)s characters (UTF-16 code units); Telegram "
                                "allows %(caption_limit)s under photos: shorten it or post the "
                                "text as its own message",
                            ),
                            count="length",
                        ),
                        params={"length": length, "caption_limit": CAPTION_LIMIT},
                    )
                )
        elif not draft.text.strip():
            issues.append(ValidationIssue("empty", N_("a Telegram message needs text or images")))
        elif length > TEXT_LIMIT:
            issues.append(
                ValidationIssue(
                    "too_long",
                    Plural(
                        Nn_(
                            "%(length)s character (UTF-16 code units); Telegram allows "
                            "%(text_limit)s",
                            "%(length)s characters (UTF-16 code units); Telegram allows "
                            "%(text_limit)s",
                        ),
                        count="length",
                    ),
                    params={"length": length, "text_limit": TEXT_LIMIT},
                )
            )
        if len(draft.media) > MAX_ALBUM:
            issues.append(
                ValidationIssue(
                    "too_many_media",
                    Plural(
                        Nn_(
                            "%(count)s image; a Telegram album holds at most %(max_album)s",
                            "%(count)s images; a Telegram album holds at most %(max_album)s",
                        ),
                        count="count",
                    ),
                    field="media",
                    params={"count": len(draft.media), "max_album": MAX_ALBUM},
                )
            )
        for index, media in enumerate(draft.media, 1):
            if media.mime_type not in _EXTENSIONS:
                issues.append(
                    ValidationIssue(
                        "media_type",
                        N_("image %(index)s: %(mime_type)s is not supported (JPEG or PNG)"),
                        field="media",
                        params={"index": index, "mime_type": media.mime_type},
                    )
                )
            elif len(media.content) > MAX_PHOTO_BYTES:
                issues.append(
                    ValidationIssue(
                        "media_too_large",
                        N_("image %(index)s is larger than 10 MB, Telegram's limit for photos"),
                        field="media",
                        params={"index": index},
                    )
                )
        if draft.thread:
            issues.append(
                ValidationIssue(
                    "threads",
                    N_("Telegram has no threads: publish the follow-ups as replies"),
                    field="thread",
                )
            )
        if draft.reply_to is None and not self.chat_id:
            issues.append(
                ValidationIssue(
                    "no_chat", N_("no channel or chat is configured to post to"), field="chat_id"
                )
            )
        return issues

    def publish(self, draft: Draft) -> PublishResult:
        issues = self.validate(draft)
        if issues:
            raise InvalidPayload(
                "; ".join(issue.message for issue in issues),
                issues=[issue.code for issue in issues],
                network=NETWORK,
            )
        if draft.reply_to is not None:
            chat_id, reply_id = split_remote_id(draft.reply_to)
        else:
            chat_id, reply_id = self.chat_id, None
        own = self._own_chat(chat_id)
        common: dict[str, Any] = {"chat_id": chat_id}
        if reply_id is not None:
            common["reply_parameters"] = {"message_id": reply_id}
        client = self.client
        media = list(draft.media)
        if not media:
            result = client.call(
                "sendMessage", {**common, "text": draft.text}, chat_id=chat_id, own_chat=own
            )
            return self._result([result])
        files = [
            (
                f"photo{index}",
                (
                    item.filename or f"photo{index}.{_EXTENSIONS[item.mime_type]}",
                    item.content,
                    item.mime_type,
                ),
            )
            for index, item in enumerate(media)
        ]
        if len(media) == 1:
            fields = {**common, "caption": draft.text or None}
            result = client.call(
                "sendPhoto",
                fields,
                files=[("photo", files[0][1])],
                chat_id=chat_id,
                own_chat=own,
            )
            return self._result([result])
        album: list[dict[str, Any]] = []
        for index in range(len(media)):
            item: dict[str, Any] = {"type": "photo", "media": f"attach://photo{index}"}
            if index == 0 and draft.text:
                item["caption"] = draft.text
            album.append(item)
        results = client.call(
            "sendMediaGroup",
            {**common, "media": album},
            files=files,
            chat_id=chat_id,
            own_chat=own,
        )
        return self._result(results if isinstance(results, list) else [results])

    def _result(self, messages: Sequence[Any]) -> PublishResult:
        sent = [m for m in messages if isinstance(m, dict) and "message_id" in m]
        if not sent:
            raise InvalidPayload("Telegram answered without a message", network=NETWORK)
        first = sent[0]
        chat = first.get("chat") or {}
        chat_id = str(chat.get("id"))
        state = {"chat_id": chat_id}
        if len(sent) > 1:
            state["message_ids"] = ",".join(str(m["message_id"]) for m in sent)
            state["media_group_id"] = str(first.get("media_group_id") or "")
        return PublishResult(
            remote_id=f"{chat_id}:{first['message_id']}",
            url=message_url(chat, first["message_id"]),
            state=state,
        )

    def recent_posts(self, *, limit: int = 20, since: dt.datetime | None = None) -> RecentPosts:
        """Not available: the Bot API (core.telegram.org/bots/api) has no method that lists a
        chat's or channel's messages, only ``getUpdates``/webhooks for what happens next, and
        a bot receives no update for the messages it sends itself, so nothing this provider
        stores either can show whether a send arrived. The dispatcher then leaves a send
        whose outcome is unknown *unconfirmed* for a person to look at (never sent again)."""
        raise NotImplementedError(
            "the Telegram Bot API cannot list a channel's messages: a bot only sees what it "
            "sends and the updates it receives, so a send whose outcome is unknown cannot be "
            "reconciled by asking Telegram; rely on the idempotency the dispatcher stores"
        )

    def recent_replies(
        self, target: RemoteRef, *, limit: int = 20, since: dt.datetime | None = None
    ) -> list[PublishResult]:
        """Never answers (``since`` changes nothing): the Bot API reads no chat history."""
        raise NotImplementedError(
            "the Telegram Bot API cannot read a chat's history (a bot sees only the updates it "
            "receives), so Telegram cannot tell whether this answer arrived"
        )

    # -- webhook mode ----------------------------------------------------------------------------

    @property
    def webhook_mode(self) -> bool:
        return updates_mode(self.config.get(UPDATES_FIELD)) == WEBHOOK

    def set_webhook(self, url: str, secret_token: str) -> None:
        """Have Telegram push the bot's updates to ``url`` (``getUpdates`` stops working)."""
        self.client.call(
            "setWebhook",
            {
                "url": url,
                "secret_token": secret_token,
                "allowed_updates": list(ALLOWED_UPDATES),
                "drop_pending_updates": False,
            },
        )

    def delete_webhook(self) -> None:
        """Back to ``getUpdates``; the updates not delivered yet stay queued for it."""
        self.client.call("deleteWebhook", {"drop_pending_updates": False})

    def webhook_info(self) -> WebhookInfo:
        info = self.client.call("getWebhookInfo")
        info = info if isinstance(info, dict) else {}
        pending = info.get("pending_update_count")
        stamp = info.get("last_error_date")
        message = info.get("last_error_message")
        return WebhookInfo(
            url=str(info.get("url") or ""),
            pending_update_count=pending if isinstance(pending, int) else 0,
            last_error_date=dt.datetime.fromtimestamp(stamp, dt.UTC)
            if isinstance(stamp, int) and stamp > 0
            else None,
            last_error_message=str(message)[:500] if message else None,
        )

    def apply_settings(
        self, before: dict[str, str], *, public_url: str | None, channel_id: int
    ) -> dict[str, str | None]:
        """Switch how updates arrive when ``updates`` changed (see the module docstring).
        Saving webhook mode again registers the webhook again (a new secret) when the public
        address changed since."""
        old, new = (
            updates_mode(before.get(UPDATES_FIELD)),
            updates_mode(self.config.get(UPDATES_FIELD)),
        )
        if new == WEBHOOK:
            url = webhook_url(public_url, channel_id)
            if old == WEBHOOK and self.credentials.extra.get(URL_KEY) == url:
                return {}
            secret = secrets.token_urlsafe(48)  # A-Z a-z 0-9 _ -: what Telegram allows
            self.set_webhook(url, secret)
            return {SECRET_KEY: secret, URL_KEY: url}
        if old == WEBHOOK:
            self.delete_webhook()
            return {SECRET_KEY: None, URL_KEY: None}
        return {}

    # -- inbound ---------------------------------------------------------------------------------

    def fetch_messages(self, since: str | None) -> MessagePage:
        if self.webhook_mode and self.webhook_info().url:
            # Telegram pushes the updates; getUpdates would only answer 409.
            return MessagePage(messages=[], cursor=since)
        offset = int(since) if since and since.strip().lstrip("-").isdigit() else None
        self._bot()  # before getUpdates, which confirms what came before the offset
        updates = self.client.call(
            "getUpdates",
            {
                "offset": str(offset) if offset is not None else None,
                "limit": str(UPDATES_LIMIT),
                "timeout": "0",
                "allowed_updates": list(ALLOWED_UPDATES),
            },
        )
        messages, _problems, last = self.read_updates(updates if isinstance(updates, list) else [])
        cursor = str(last + 1) if last is not None else since
        return MessagePage(messages=messages, cursor=cursor)

    def read_updates(
        self, updates: Sequence[Any]
    ) -> tuple[list[InboundMessage], list[UpdateProblem], int | None]:
        """The inbox's messages in these updates (polled, or pushed to the webhook), the
        updates that could not be read, and the highest ``update_id``."""
        bot_id, username = self._bot()
        messages: list[InboundMessage] = []
        problems: list[UpdateProblem] = []
        last: int | None = None
        for index, update in enumerate(updates):
            if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
                problems.append(
                    UpdateProblem(f"update[{index}]", "an update without an update_id", update)
                )
                continue
            last = max(last or update["update_id"], update["update_id"])
            for key, edited in _MESSAGE_KEYS.items():
                message = update.get(key)
                if message is None:
                    continue
                if not isinstance(message, dict) or not isinstance(message.get("chat"), dict):
                    problems.append(
                        UpdateProblem(
                            f"update {update['update_id']}.{key}",
                            "a message without a chat",
                            update,
                        )
                    )
                    continue
                inbound = self._classify(message, bot_id, username, edited=edited)
                if inbound is not None:
                    messages.append(inbound)
        return messages, problems, last

    def _mentions_bot(self, message: Mapping[str, Any], bot_id: str, username: str) -> bool:
        text = message.get("text") or message.get("caption") or ""
        entities = message.get("entities") or message.get("caption_entities") or []
        for entity in entities if isinstance(entities, list) else []:
            if not isinstance(entity, dict):
                continue
            kind = entity.get("type")
            if kind == "text_mention":
                user = entity.get("user") or {}
                if str(user.get("id")) == bot_id:
                    return True
                continue
            if kind not in ("mention", "bot_command") or not username:
                continue
            part = utf16_slice(
                str(text), int(entity.get("offset", 0)), int(entity.get("length", 0))
            ).lower()
            if kind == "mention" and part == f"@{username}":
                return True
            if kind == "bot_command" and part.endswith(f"@{username}"):
                return True
        return False

    def _classify(
        self, message: Mapping[str, Any], bot_id: str, username: str, *, edited: bool
    ) -> InboundMessage | None:
        chat = message.get("chat") or {}
        sender = message.get("from") or {}
        if not isinstance(chat, dict) or "message_id" not in message:
            return None
        if str(sender.get("id")) == bot_id:
            return None  # our own message
        chat_id = str(chat.get("id"))
        answered = message.get("reply_to_message")
        answered = answered if isinstance(answered, dict) else None
        kind: MessageKind | None = None
        if chat.get("type") == "private":
            kind = MessageKind.direct
        elif answered is not None and str((answered.get("from") or {}).get("id")) == bot_id:
            kind = MessageKind.reply
        elif (
            answered is not None
            and answered.get("is_automatic_forward")
            and self._own_chat(str((answered.get("sender_chat") or {}).get("id")))
        ):
            kind = MessageKind.comment
        elif self._mentions_bot(message, bot_id, username):
            kind = MessageKind.mention
        if kind is None:
            return None
        stamp = message.get("edit_date") if edited else None
        stamp = stamp or message.get("date") or 0
        return InboundMessage(
            remote_id=f"{chat_id}:{message['message_id']}",
            kind=kind,
            author=_author(message),
            text=str(message.get("text") or message.get("caption") or ""),
            created_at=dt.datetime.fromtimestamp(int(stamp), dt.UTC),
            conversation_id=chat_id,
            in_reply_to=f"{chat_id}:{answered['message_id']}"
            if answered is not None and "message_id" in answered
            else None,
            url=message_url(chat, message["message_id"]),
            raw={**message, "edited": edited},
        )


__all__ = [
    "TelegramProvider",
    "WebhookInfo",
    "normalise_chat_id",
    "updates_mode",
    "utf16_length",
    "utf16_slice",
    "webhook_url",
]
