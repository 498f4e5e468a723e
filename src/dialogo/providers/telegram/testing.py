"""The Telegram provider's fixture for the provider contract (:mod:`dialogo.providers.contract`).

Error answers are written the way the Bot API documents them: ``{"ok": false, "error_code":
..., "description": ...}``, and flood control as ``429 Too Many Requests: retry after N`` with
``parameters.retry_after`` (no ``Retry-After`` header)."""

from __future__ import annotations

import contextlib
import json
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from dialogo.providers.base import Credentials, Draft, Media, Provider
from dialogo.providers.contract import Answer, ContractFixture, Responder, httpx_client
from dialogo.providers.telegram.client import DEFAULT_BASE_URL
from dialogo.providers.telegram.provider import TelegramProvider

TOKEN = "123456789:AAHcontract-token_0123456789abcdefghi"  # noqa: S105 - a made-up token
CHAT = "@dialogo_contract"
#: The smallest PNG header the validation looks at (the contract never uploads it).
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32

_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot is not a member of the channel chat",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def error_answer(status: int) -> Answer:
    description = _DESCRIPTIONS.get(status, f"Error {status}")
    return Answer(status, json={"ok": False, "error_code": status, "description": description})


def rate_limit_answer(wait: float) -> Answer:
    seconds = int(wait)
    return Answer(
        429,
        json={
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {seconds}",
            "parameters": {"retry_after": seconds},
        },
    )


def contract_fixture() -> ContractFixture:
    @contextlib.contextmanager
    def connect(responder: Responder) -> Iterator[Provider]:
        provider = TelegramProvider(
            Credentials(
                access_token=TOKEN, account_id="123456789", extra={"username": "dialogo_bot"}
            ),
            http=httpx_client(responder),
            config={"chat_id": CHAT},
        )
        try:
            yield provider
        finally:
            provider.close()

    return ContractFixture(
        provider_class=TelegramProvider,
        connect=connect,
        valid_drafts=[
            Draft(text="Nuova collezione autunno 🍂 #moda"),
            Draft(text="👍" * 2048),  # 4096 UTF-16 code units exactly
            Draft(text="a" * 1024, media=[Media(PNG, "image/png")] * 10),
        ],
        invalid_drafts={
            "4097 UTF-16 code units": Draft(text="a" + "👍" * 2048),
            "empty": Draft(text="  "),
            "caption over 1024": Draft(text="é" * 1025, media=[Media(PNG, "image/png")]),
            "eleven images": Draft(text="x", media=[Media(PNG, "image/png")] * 11),
            "image over 10 MB": Draft(
                text="x", media=[Media(PNG + b"\0" * (10 * 1024 * 1024), "image/png")]
            ),
            "video": Draft(text="x", media=[Media(b"\0\0\0\x18ftypmp42", "video/mp4")]),
            "a thread": Draft(text="ok", thread=[Draft(text="and then")]),
        },
        error_answer=error_answer,
        rate_limit_answer=rate_limit_answer,
    )


# -- a Bot API with its update queue, for the inbox's polling and webhook tests -----------------

BOT_ID = 123456789
BOT_USERNAME = "dialogo_bot"


class FakeBotApi:
    """Telegram's update queue as the Bot API documents it (core.telegram.org/bots/api,
    "Getting updates"), answered through an ``httpx.MockTransport``:

    - ``getUpdates`` returns the queued updates from ``offset`` on and forgets (confirms)
      those before it; while a webhook is set it answers 409 ``Conflict: can't use
      getUpdates method while webhook is active``;
    - ``setWebhook`` (https only) and ``deleteWebhook`` keep the queue unless
      ``drop_pending_updates`` is true; ``getWebhookInfo`` says the address, how many updates
      wait and the last delivery error;
    - :meth:`deliver` pushes the queued updates to the webhook in order, as Telegram does: a
      delivery answered 2xx is confirmed, any other answer stops the round and is kept as
      ``last_error_message``, the update staying queued.

    Every call is recorded in :attr:`calls` as (method, form fields)."""

    def __init__(self, *, token: str = TOKEN, first_update_id: int = 730001) -> None:
        self.token = token
        self.queue: list[dict[str, Any]] = []
        self.next_update_id = first_update_id
        self.next_message_id = 900
        self.webhook_url = ""
        self.secret_token = ""
        self.allowed_updates: list[str] = []
        self.last_error: tuple[int, str] | None = None
        self.calls: list[tuple[str, dict[str, str]]] = []

    # -- what people do on Telegram --------------------------------------------------------------

    def private_message(
        self, text: str, *, user_id: int = 555000111, first_name: str = "Giulia", at: int = 0
    ) -> dict[str, Any]:
        """A person writes to the bot in a private chat: one ``message`` update queued."""
        self.next_message_id += 1
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "username": "giuliab"}
        message = {
            "message_id": self.next_message_id,
            "from": user,
            "chat": {"id": user_id, "first_name": first_name, "type": "private"},
            "date": at or 1772442050 + self.next_message_id,
            "text": text,
        }
        return self.queue_update({"message": message})

    def queue_update(self, content: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self.next_update_id, **content}
        self.next_update_id += 1
        self.queue.append(update)
        return update

    # -- the webhook -------------------------------------------------------------------------------

    def deliver(self, post: Callable[[str, bytes, dict[str, str]], int]) -> int:
        """Push the queued updates to the webhook; ``post(url, body, headers)`` answers the
        HTTP status. Returns how many were confirmed."""
        confirmed = 0
        while self.webhook_url and self.queue:
            update = self.queue[0]
            headers = {"Content-Type": "application/json"}
            if self.secret_token:
                headers["X-Telegram-Bot-Api-Secret-Token"] = self.secret_token
            status = post(self.webhook_url, json.dumps(update).encode(), headers)
            if not 200 <= status < 300:
                self.last_error = (1772450000, f"Wrong response from the webhook: {status}")
                break
            self.queue.pop(0)
            confirmed += 1
        return confirmed

    # -- the Bot API -------------------------------------------------------------------------------

    def http(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        prefix = f"{DEFAULT_BASE_URL}/bot{self.token}/"
        url = str(request.url)
        if not url.startswith(prefix):
            return _fail(404, "Not Found")
        method = url.removeprefix(prefix)
        fields = dict(urllib.parse.parse_qsl(request.read().decode(), keep_blank_values=True))
        self.calls.append((method, fields))
        answer = getattr(self, f"_{method}", None)
        if answer is None:
            return _fail(404, "Not Found: method not found")
        result: httpx.Response = answer(fields)
        return result

    def _getMe(self, fields: dict[str, str]) -> httpx.Response:
        return _ok(
            {"id": BOT_ID, "is_bot": True, "first_name": "Dialogo", "username": BOT_USERNAME}
        )

    def _getChat(self, fields: dict[str, str]) -> httpx.Response:
        """The channel the bot publishes to (a ``ChatFullInfo`` of type ``channel``)."""
        chat_id = fields.get("chat_id", "")
        return _ok(
            {
                "id": int(chat_id) if chat_id.lstrip("-").isdigit() else -1001234567890,
                "type": "channel",
                "title": "Bottega Rossi",
            }
        )

    def _getChatMember(self, fields: dict[str, str]) -> httpx.Response:
        """The bot is an administrator of the channel allowed to post."""
        user = {"id": BOT_ID, "is_bot": True, "first_name": "Dialogo", "username": BOT_USERNAME}
        return _ok({"status": "administrator", "user": user, "can_post_messages": True})

    def _getUpdates(self, fields: dict[str, str]) -> httpx.Response:
        if self.webhook_url:
            return _fail(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        if fields.get("offset"):
            offset = int(fields["offset"])
            self.queue = [u for u in self.queue if u["update_id"] >= offset]
        limit = int(fields.get("limit") or 100)
        return _ok(self.queue[:limit])

    def _setWebhook(self, fields: dict[str, str]) -> httpx.Response:
        url = fields.get("url", "")
        if url and not url.startswith("https://"):
            return _fail(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if fields.get("drop_pending_updates") == "true":
            self.queue.clear()
        self.webhook_url = url
        self.secret_token = fields.get("secret_token", "")
        self.allowed_updates = json.loads(fields.get("allowed_updates") or "[]")
        self.last_error = None
        return _ok(True, description="Webhook was set")

    def _deleteWebhook(self, fields: dict[str, str]) -> httpx.Response:
        if fields.get("drop_pending_updates") == "true":
            self.queue.clear()
        self.webhook_url = self.secret_token = ""
        return _ok(True, description="Webhook was deleted")

    def _getWebhookInfo(self, fields: dict[str, str]) -> httpx.Response:
        info: dict[str, Any] = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.queue),
        }
        if self.webhook_url:
            info["max_connections"] = 40
            info["allowed_updates"] = self.allowed_updates
        if self.webhook_url and self.last_error is not None:
            info["last_error_date"], info["last_error_message"] = self.last_error
        return _ok(info)


def _ok(result: Any, **extra: Any) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": result, **extra})


def _fail(status: int, description: str) -> httpx.Response:
    return httpx.Response(
        status, json={"ok": False, "error_code": status, "description": description}
    )
