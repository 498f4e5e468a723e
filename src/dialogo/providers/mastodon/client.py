"""A thin synchronous client over `Mastodon.py <https://mastodonpy.readthedocs.io>`_.

Mastodon.py knows every endpoint of the Mastodon API and its parameters; this module only
makes sure it behaves the way every provider must:

- **never sleeps, never retries**: the wrapper is built with ``ratelimit_method="throw"``
  (Mastodon.py's default, ``"wait"``, sleeps until the limit resets and tries again) and a
  ``request_timeout``; ``version_check_mode="none"`` and a fixed server version
  (:data:`ASSUMED_VERSION`) so it never sends requests of its own to learn the version;
- **the caller's HTTP session**: requests go through a ``requests.Session`` that the caller
  may supply (tests mount a transport adapter answering from a script on it; see
  :mod:`dialogo.providers.mastodon.testing`); the session remembers the last response, so a
  rate-limit error can read the wait from its headers;
- **one error mapping**: every Mastodon.py exception becomes one of the shared provider errors
  in :meth:`MastodonClient.call` (see :func:`error_for`), so no library exception escapes.

Answers are handed back as plain JSON-like ``dict`` objects (Mastodon.py's
``AttribAccessDict`` is a ``dict``); the provider reads them with the accessors at the bottom.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonIllegalArgumentError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from dialogo.providers import deadline as deadlines
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
from dialogo.providers.netpolicy import OutboundRefused
from dialogo.providers.pinning import DeadlineAdapter

NETWORK = "mastodon"
DEFAULT_TIMEOUT = 20.0
USER_AGENT = "Dialogo"
#: The oldest Mastodon the provider supports (4.0: 1,500-character alt text, ``/api/v2/media``).
ASSUMED_VERSION = "4.0.0"

T = TypeVar("T")


class RecordingSession(requests.Session):
    """A ``requests.Session`` that keeps the last response (its headers say how long a rate
    limit lasts, which Mastodon.py's ``MastodonRatelimitError`` does not carry). Its
    connections check the request deadline again just before a request's first byte
    (:class:`~dialogo.providers.pinning.DeadlineAdapter`; ``pin_session`` keeps that)."""

    def __init__(self) -> None:
        super().__init__()
        self.last_response: requests.Response | None = None
        self.hooks["response"].append(self._remember)
        adapter = DeadlineAdapter()
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.last_response = response

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Every request bounded by the caller's request deadline, as the httpx clients are
        (:mod:`dialogo.providers.deadline`): none starts after it, none waits beyond it; checked
        here when the request is built, and again by its connection before its first byte."""
        left = deadlines.remaining()
        if left is not None:
            if left <= 0:
                raise requests.exceptions.ConnectTimeout(deadlines.NOT_SENT)
            timeout = kwargs.get("timeout")
            if isinstance(timeout, tuple):
                kwargs["timeout"] = tuple(left if t is None else min(t, left) for t in timeout)
            else:
                kwargs["timeout"] = left if timeout is None else min(timeout, left)
        return super().request(method, url, *args, **kwargs)


def _refusal_in(exc: BaseException) -> OutboundRefused | None:
    """The :class:`OutboundRefused` behind a Mastodon.py error: Mastodon.py turns whatever its
    session raises into a ``MastodonNetworkError`` ("Could not complete request")."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None or isinstance(seen, OutboundRefused):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _status_of(exc: MastodonAPIError) -> int | None:
    # Mastodon.py raises ``ex_type('Mastodon API returned error', status, reason, message)``.
    if len(exc.args) > 1 and isinstance(exc.args[1], int):
        return exc.args[1]
    return None


def _message_of(exc: MastodonError) -> str:
    if len(exc.args) > 3 and exc.args[3]:
        return str(exc.args[3])[:300]
    return str(exc)[:300]


def _before_sending(cause: BaseException | None) -> bool:
    """Whether a transport failure happened before the request left (safe to send again)."""
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(cause, requests.exceptions.ReadTimeout):
        return False
    if isinstance(cause, requests.exceptions.ConnectionError):
        reason = cause.args[0] if cause.args else None
        text = repr(reason)
        return any(
            marker in text
            for marker in ("NewConnectionError", "NameResolutionError", "Failed to resolve")
        )
    return False


def error_for(
    exc: MastodonError,
    *,
    what: str,
    write: bool,
    account_call: bool = False,
    last_response: requests.Response | None = None,
    now: float | None = None,
    ratelimit_reset: float | None = None,
) -> ProviderError:
    """The shared provider error for a Mastodon.py exception.

    - ``MastodonUnauthorizedError`` (401) → :class:`ReauthRequired`;
    - ``MastodonRatelimitError`` (429) → :class:`RateLimited`, waiting what the answer's
      ``Retry-After`` or ``X-RateLimit-Reset`` (an ISO date on Mastodon) says, else what
      Mastodon.py parsed into ``ratelimit_reset``;
    - ``MastodonServerError`` (5xx) → :class:`TransientError`;
    - ``MastodonNetworkError``: before the request left → :class:`TransientError`; after a
      write left (a read timeout) → :class:`OutcomeUnknown`; after a read → transient;
    - ``MastodonNotFoundError`` on the account's own endpoints, and 410 → :class:`Disconnected`;
      on a write (the status replied to is gone) → :class:`InvalidPayload`;
    - 403 → :class:`InsufficientScopes` (Mastodon says "outside the authorized scopes") or,
      for a disabled or suspended account, :class:`Disconnected`;
    - 422 (and 400 on a write) → :class:`InvalidPayload`;
    - anything else → :class:`ProviderError` with code ``mastodon_http_<status>``.
    """
    if isinstance(exc, MastodonRatelimitError):
        wait = retry_after(last_response.headers) if last_response is not None else None
        if wait is None and ratelimit_reset is not None:
            wait = max(0.0, ratelimit_reset - (now if now is not None else time.time()))
        return RateLimited(
            f"Mastodon rate limit reached ({what})",
            retry_after=DEFAULT_RETRY_AFTER if wait is None else wait,
            network=NETWORK,
        )
    if isinstance(exc, MastodonNetworkError):
        cause = exc.__cause__ or exc.__context__
        if _before_sending(cause) or not write:
            return TransientError(f"could not reach Mastodon ({what}): {cause!r}", network=NETWORK)
        return OutcomeUnknown(
            f"Mastodon did not answer {what} after the request was sent; it may have been applied",
            network=NETWORK,
        )
    if isinstance(exc, MastodonAPIError):
        status = _status_of(exc)
        message = _message_of(exc)
        where = f"{what} answered {status}: {message}"
        if isinstance(exc, MastodonUnauthorizedError) or status == 401:
            return ReauthRequired(f"Mastodon refused the access token: {where}", network=NETWORK)
        if isinstance(exc, MastodonServerError) or (status is not None and status >= 500):
            return TransientError(f"Mastodon is unavailable: {where}", network=NETWORK)
        if status == 408:
            return TransientError(f"Mastodon timed out: {where}", network=NETWORK)
        if status == 410 or (isinstance(exc, MastodonNotFoundError) and account_call):
            return Disconnected(f"the Mastodon account is not available: {where}", network=NETWORK)
        if status == 403:
            if "scope" in message.lower():
                return InsufficientScopes(
                    f"the Mastodon token lacks a permission: {where}", network=NETWORK
                )
            return Disconnected(f"Mastodon refused the account: {where}", network=NETWORK)
        if status == 422 or (write and status in (400, 404, 413)):
            return InvalidPayload(
                f"Mastodon rejected the content: {where}", issues=[message], network=NETWORK
            )
        return ProviderError(
            f"Mastodon: {where}", code=f"mastodon_http_{status or 'error'}", network=NETWORK
        )
    if isinstance(exc, MastodonIllegalArgumentError):
        return InvalidPayload(f"Mastodon.py refused the call {what}: {exc}", network=NETWORK)
    return ProviderError(f"Mastodon.py failed on {what}: {exc!r}", network=NETWORK)


class MastodonClient:
    """One account on one Mastodon server, through Mastodon.py."""

    def __init__(
        self,
        api_base_url: str,
        access_token: str | None,
        *,
        session: RecordingSession | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.api_base_url = api_base_url.rstrip("/")
        self.session = session or RecordingSession()
        self.api = Mastodon(
            access_token=access_token,
            api_base_url=self.api_base_url,
            ratelimit_method="throw",
            request_timeout=timeout,
            version_check_mode="none",
            mastodon_version=ASSUMED_VERSION,
            session=self.session,
            user_agent=USER_AGENT,
        )
        # Without a known version Mastodon.py asks the server for it (``/api/v1/instance``)
        # before some calls (``media_post``), and when that request fails it asks again,
        # recursively. With ``version_check_mode="none"`` it records the version it is given
        # as checked but leaves the numbers at 1.0.0: set them, so it picks the current
        # endpoints (``/api/v2/media``, notification ``types``) and never asks.
        major, minor, patch = (int(part) for part in ASSUMED_VERSION.split("."))
        self.api.mastodon_major, self.api.mastodon_minor, self.api.mastodon_patch = (
            major,
            minor,
            patch,
        )

    def call(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        write: bool = False,
        account_call: bool = False,
    ) -> T:
        """Run one Mastodon.py call, mapping its exceptions to the shared errors."""
        self.session.last_response = None
        try:
            return fn()
        except MastodonError as exc:
            refused = _refusal_in(exc)
            if refused is not None:  # the outbound policy refused the address it connects to
                raise refused from exc
            raise error_for(
                exc,
                what=what,
                write=write,
                account_call=account_call,
                last_response=self.session.last_response,
                ratelimit_reset=self.api.ratelimit_reset,
            ) from exc

    def open_stream(self, path: str, *, read_timeout: float) -> requests.Response:
        """Open a server-sent events stream of the streaming API (``/api/v1/streaming/…``) on
        the client's session; the caller reads it (Mastodon.py's ``StreamListener``) and closes
        it. Mastodon.py's own ``stream_*`` helpers are not used: they hide the HTTP status
        (a 401 becomes a bare network error) and, run in the background, reconnect forever."""
        url = f"{self.api_base_url}/api/v1/streaming/{path.lstrip('/')}"
        headers = {"User-Agent": USER_AGENT, "Accept": "text/event-stream"}
        if self.api.access_token:
            headers["Authorization"] = f"Bearer {self.api.access_token}"
        try:
            response = self.session.get(
                url,
                headers=headers,
                stream=True,
                timeout=(self.api.request_timeout, read_timeout),
            )
        except requests.RequestException as exc:
            raise TransientError(
                f"could not reach Mastodon's streaming API: {exc!r}", network=NETWORK
            ) from exc
        if response.status_code == 200:
            return response
        status, reason = response.status_code, response.reason
        headers_in = dict(response.headers)
        response.close()
        what = f"the streaming API answered {status} {reason}"
        if status == 401:
            raise ReauthRequired(f"Mastodon refused the access token: {what}", network=NETWORK)
        if status == 429:
            wait = retry_after(headers_in)
            raise RateLimited(
                f"Mastodon rate limit reached ({what})",
                retry_after=DEFAULT_RETRY_AFTER if wait is None else wait,
                network=NETWORK,
            )
        if status >= 500 or status == 408:
            raise TransientError(f"Mastodon is unavailable: {what}", network=NETWORK)
        if status == 403:
            raise InsufficientScopes(f"the Mastodon token lacks a permission: {what}")
        # 404: the instance has streaming switched off (or serves it elsewhere).
        raise ProviderError(f"Mastodon: {what}", code=f"mastodon_stream_{status}", network=NETWORK)

    # -- the calls the provider makes ------------------------------------------------------------

    def verify_credentials(self) -> dict[str, Any]:
        return self.call(
            "verify_credentials", self.api.account_verify_credentials, account_call=True
        )

    def upload_media(
        self, content: bytes, mime_type: str, *, description: str, file_name: str | None
    ) -> dict[str, Any]:
        # An upload that times out created at most an unattached attachment, which the server
        # deletes later: it is safe to send again, hence ``write=False``.
        return self.call(
            "media_post",
            lambda: self.api.media_post(
                io.BytesIO(content),
                mime_type=mime_type,
                description=description or None,
                file_name=file_name,
            ),
        )

    def post_status(
        self,
        text: str,
        *,
        media_ids: list[str] | None = None,
        in_reply_to_id: str | None = None,
        visibility: str | None = None,
        language: str | None = None,
        spoiler_text: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        return self.call(
            "status_post",
            lambda: self.api.status_post(
                text,
                in_reply_to_id=in_reply_to_id,
                media_ids=media_ids or None,
                visibility=visibility,
                language=language,
                spoiler_text=spoiler_text,
                idempotency_key=idempotency_key,
            ),
            write=True,
        )

    def account_statuses(
        self, account_id: str, *, limit: int, max_id: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the account's statuses, newest first, older than ``max_id``, and the
        ``max_id`` of the next page: the one the server's ``Link: <…>; rel="next"`` header
        carries (Mastodon.py reads it into ``_pagination_next``; docs.joinmastodon.org, API
        guidelines, "Paginating with the Link header"), ``None`` when it sends none (the
        last page) or the page is empty."""
        page = self.call(
            "account_statuses",
            lambda: self.api.account_statuses(account_id, limit=limit, max_id=max_id),
            account_call=True,
        )
        following = getattr(page, "_pagination_next", None)
        cursor = following.get("max_id") if isinstance(following, Mapping) else None
        statuses = list(page)
        return statuses, str(cursor) if statuses and cursor is not None else None

    def mentions(self, *, min_id: str | None, limit: int = 40) -> list[dict[str, Any]]:
        """``mention`` notifications; with ``min_id``, the page right after that id (so paging
        forward leaves no gap, unlike ``since_id`` which answers the newest page)."""
        return list(
            self.call(
                "notifications",
                lambda: self.api.notifications(types=["mention"], min_id=min_id, limit=limit),
            )
        )

    def status(self, status_id: str) -> dict[str, Any]:
        return self.call("status", lambda: self.api.status(status_id))

    def search_statuses(self, query: str, *, limit: int = 20) -> list[dict[str, Any]]:
        result = self.call(
            "search_v2",
            lambda: self.api.search_v2(query, resolve=False, result_type="statuses"),
        )
        statuses = result.get("statuses") if isinstance(result, Mapping) else None
        return list(statuses or [])[:limit]

    def close(self) -> None:
        self.session.close()


# -- accessors ----------------------------------------------------------------------------------


def text_of(value: object) -> str:
    return "" if value is None else str(value)


def int_of(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def mapping_of(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
