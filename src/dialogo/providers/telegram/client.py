"""A thin synchronous client over the Telegram Bot API (``https://api.telegram.org``).

Why ``httpx`` and not python-telegram-bot
-----------------------------------------
The Bot API is a handful of HTTP methods answering ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": ..., "description": ..., "parameters": {...}}``. The provider needs
six of them (``getMe``, ``getChat``, ``getChatMember``, ``sendMessage``, ``sendPhoto``,
``sendMediaGroup``, ``getUpdates``) called one at a time, synchronously, through the
``httpx.Client`` the caller supplies (tests put an ``httpx.MockTransport`` there). The
python-telegram-bot library is built around an asyncio ``Application`` with its own update
dispatching, its own HTTP stack, a built-in retry on flood waits and long polling: all of
which the dispatcher already does (or must not happen: providers never sleep or retry), and
none of which can run on the caller's client. A hundred lines here are simpler to read and
test than an adapter around that machinery.

Every call is a ``POST`` to ``<base_url>/bot<token>/<method>`` (form fields, or multipart when
files are uploaded); the base URL is configurable for a self-hosted Bot API server. The token
is part of the URL, so no error message here ever includes the URL: they name the method.

Errors (:func:`error_for`), from the documented ``error_code``/``description``:

- 401 ``Unauthorized`` (a revoked or wrong token) and 404 ``Not Found`` (a malformed token:
  the API answers 404 when the path is not a bot) → :class:`ReauthRequired`;
- 429 ``Too Many Requests: retry after N`` → :class:`RateLimited` waiting
  ``parameters.retry_after`` (the ``Retry-After`` header when the JSON lacks it);
- in a chat that is not the channel's own (a reply to one person's direct message, or in a
  group where the bot was mentioned), any 403 or missing right → :class:`InvalidPayload`:
  one person blocking the bot must not flag the channel;
- in the channel's own chat: 403 ``bot was blocked by the user``/``user is deactivated`` and
  400 ``chat not found`` → :class:`Disconnected`; 403 ``bot is not a member``/``bot was
  kicked`` and 400 ``not enough rights``/``need administrator rights`` →
  :class:`InsufficientScopes`;
- other 400s (``message is too long``, ``message caption is too long``, ``chat not found``,
  ``message to be replied not found``, ``can't parse entities``…) → :class:`InvalidPayload`;
- 409 ``Conflict`` (a webhook is set, or another program polls with the same token) → a
  :class:`ProviderError` saying so (``telegram_conflict``);
- 5xx and 408 → :class:`TransientError`; transport failures: a failure before the request
  left → :class:`TransientError`, a lost answer to a ``send*`` method → :class:`OutcomeUnknown`
  (the message may exist), to any other method → :class:`TransientError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from dialogo.providers.errors import (
    Disconnected,
    InsufficientScopes,
    InvalidPayload,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.http import DEFAULT_RETRY_AFTER, retry_after

NETWORK = "telegram"
DEFAULT_BASE_URL = "https://api.telegram.org"

#: Descriptions (lower case, substrings) that mean the bot lacks a right in the chat.
_NO_RIGHTS = (
    "bot is not a member",
    "bot was kicked",
    "not enough rights",
    "need administrator rights",
    "have no rights",
    "chat_write_forbidden",
    "chat_admin_required",
)
#: Descriptions that mean a person closed their private chat with the bot.
_PERSON_GONE = ("bot was blocked by the user", "user is deactivated", "bot can't initiate")


def _is_write(method: str) -> bool:
    return method.startswith(("send", "copy", "forward"))


def error_for(
    response: httpx.Response, *, method: str, chat_id: str | None = None, own_chat: bool = True
) -> ProviderError:
    """The shared provider error for a Bot API error answer (see the module docstring).

    ``own_chat`` says whether the chat the call addressed is the channel's configured chat
    (``False`` for a reply in a person's private chat)."""
    status = response.status_code
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    code = body.get("error_code")
    if isinstance(code, int) and code >= 400:
        status = code
    description = body.get("description")
    if not isinstance(description, str) or not description:
        description = response.text[:300] if not body else str(status)
    description = description[:300]
    parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    lower = description.lower()
    where = f"{method} answered {status} ({description})"
    details: dict[str, Any] = {"network": NETWORK, "method": method, "error_code": status}
    if chat_id is not None:
        details["chat_id"] = chat_id

    if status in (401, 404):
        return ReauthRequired(
            f"Telegram refused the bot token (revoked or mistyped? ask @BotFather): {where}",
            **details,
        )
    if status == 429:
        wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
        if not isinstance(wait, int | float) or isinstance(wait, bool):
            wait = retry_after(response.headers)
        return RateLimited(
            f"Telegram flood control: {where}",
            retry_after=float(DEFAULT_RETRY_AFTER if wait is None else wait),
            **details,
        )
    if status >= 500 or status == 408:
        return TransientError(f"Telegram is unavailable: {where}", **details)
    person_gone = any(marker in lower for marker in _PERSON_GONE)
    no_rights = any(marker in lower for marker in _NO_RIGHTS)
    if (person_gone or no_rights or status == 403) and not own_chat:
        return InvalidPayload(
            "the bot can no longer write in that chat (the person blocked it, or it left "
            f"the group): {where}",
            issues=["chat_unavailable"],
            **details,
        )
    if person_gone or (own_chat and "chat not found" in lower):
        return Disconnected(
            "the chat is closed to the bot or does not exist (check the channel's "
            f"@username or id, and that the bot was added to it): {where}",
            **details,
        )
    if no_rights or status == 403:
        return InsufficientScopes(
            "the bot cannot post in this chat: add it to the channel as an administrator "
            f"allowed to post messages (or to the group as a member): {where}",
            missing=["can_post_messages"],
            **details,
        )
    if status == 409:
        return ProviderError(
            "Telegram refused to hand over the bot's updates: a webhook is set for this bot "
            "or another program polls it with the same token (only one may read updates): "
            f"{where}",
            code="telegram_conflict",
            **details,
        )
    if status in (400, 403, 413):
        migrate = parameters.get("migrate_to_chat_id") if isinstance(parameters, dict) else None
        if migrate is not None:
            details["migrate_to_chat_id"] = str(migrate)
            return InvalidPayload(
                f"the group became a supergroup: use chat id {migrate} instead ({where})",
                issues=["chat_migrated"],
                **details,
            )
        return InvalidPayload(f"Telegram rejected the request: {where}", issues=[lower], **details)
    return ProviderError(f"Telegram: {where}", code=f"telegram_{status}", **details)


class TelegramClient:
    """``call(method, fields, files)`` → the answer's ``result``, or a shared provider error."""

    def __init__(self, http: httpx.Client, token: str, *, base_url: str = DEFAULT_BASE_URL) -> None:
        self.http = http
        self._token = token
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")

    def url(self, method: str) -> str:
        return f"{self.base_url}/bot{self._token}/{method}"

    def call(
        self,
        method: str,
        fields: Mapping[str, Any] | None = None,
        *,
        files: Sequence[tuple[str, tuple[str, bytes, str]]] = (),
        chat_id: str | None = None,
        own_chat: bool = True,
    ) -> Any:
        """Call one Bot API method. Non-string field values are sent JSON-serialised, as the
        API expects for objects and arrays (``reply_parameters``, ``media``,
        ``allowed_updates``)."""
        if not self._token:
            raise ReauthRequired("no bot token: paste the token @BotFather gave", network=NETWORK)
        data = {
            key: value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            for key, value in (fields or {}).items()
            if value is not None
        }
        request = self.http.build_request(
            "POST", self.url(method), data=data, files=list(files) or None
        )
        try:
            response = self.http.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(
                f"could not reach Telegram ({method}): {type(exc).__name__}", network=NETWORK
            ) from None
        except (
            httpx.ReadTimeout,
            httpx.WriteTimeout,
            httpx.RemoteProtocolError,
            httpx.ReadError,
        ) as exc:
            if _is_write(method):
                raise OutcomeUnknown(
                    f"Telegram did not answer {method} after it was sent; the message may "
                    "have been posted",
                    network=NETWORK,
                    method=method,
                ) from None
            raise TransientError(
                f"Telegram did not answer {method}: {type(exc).__name__}", network=NETWORK
            ) from None
        # ``from None`` above: httpx's exceptions carry the request, whose URL holds the token.
        if response.status_code >= 400:
            raise error_for(response, method=method, chat_id=chat_id, own_chat=own_chat)
        try:
            body = response.json()
        except ValueError:
            raise TransientError(
                f"Telegram answered {method} with something that is not JSON", network=NETWORK
            ) from None
        if not isinstance(body, dict) or body.get("ok") is not True:
            raise error_for(response, method=method, chat_id=chat_id, own_chat=own_chat)
        return body.get("result")
