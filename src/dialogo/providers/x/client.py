"""A thin synchronous client over the X API v2 (``https://api.x.com/2``).

Why ``httpx`` and not Tweepy or the xdk SDK
-------------------------------------------
Both are built on ``requests`` with their own sessions and, in Tweepy's case, an optional
sleep-on-rate-limit; the provider needs eight JSON endpoints called through the
``httpx.Client`` its caller supplies (the dispatcher's timeouts, ``MockTransport`` in tests)
and must never sleep or retry. These few lines keep every request visible and testable.

Errors (:func:`error_for`), from the X API's problem documents
(``{"title", "detail", "type", "status"}``, https://docs.x.com/x-api/fundamentals/response-codes-and-errors):

- 401 → :class:`ReauthRequired` (an expired or revoked OAuth 2 token);
- 403 whose ``type`` is ``…/client-forbidden`` or ``…/unsupported-authentication``, or whose
  detail says the client is not permitted / lacks a scope → :class:`InsufficientScopes`
  (the app's access level or the token's scopes); a 403 about duplicate content or any other
  403 on a write → :class:`InvalidPayload` (retrying cannot help);
- 429 → :class:`RateLimited` until ``x-rate-limit-reset`` (epoch seconds); with
  ``x-app-limit-24hour-remaining: 0`` the app's 24-hour post cap (``scope="app_24h"``, until
  ``x-app-limit-24hour-reset``: every channel of the app waits);
- 400 → :class:`InvalidPayload` with the ``errors[].message`` texts;
- 5xx → :class:`TransientError`; transport failures as in :func:`dialogo.providers.http.send`
  (a lost answer to a POST is :class:`OutcomeUnknown`: the post may exist).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from dialogo.providers import ratelimits
from dialogo.providers.errors import (
    InsufficientScopes,
    InvalidPayload,
    ProviderError,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.http import DEFAULT_RETRY_AFTER, retry_after, send_raw

NETWORK = "x"
DEFAULT_BASE_URL = "https://api.x.com"

_SCOPE_TYPES = ("client-forbidden", "unsupported-authentication", "not-authorized-for-resource")
_SCOPE_WORDS = ("not permitted", "scope", "oauth2 user context", "access level")


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"detail": response.text[:300]}
    return body if isinstance(body, dict) else {}


def _describe(body: Mapping[str, Any], status: int) -> str:
    parts: list[str] = []
    for key in ("detail", "title"):
        value = body.get(key)
        if isinstance(value, str) and value and value not in parts:
            parts.append(value)
    errors = body.get("errors")
    if isinstance(errors, list):
        for error in errors[:5]:
            if isinstance(error, dict):
                text = error.get("message") or error.get("detail")
                if isinstance(text, str) and text not in parts:
                    parts.append(text)
    return "; ".join(parts)[:400] or f"HTTP {status}"


def error_for(response: httpx.Response, *, operation: str, write: bool) -> ProviderError:
    """The shared provider error for an X API error answer (see the module docstring)."""
    status = response.status_code
    body = _problem(response)
    detail = _describe(body, status)
    kind = str(body.get("type") or "")
    where = f"{operation} answered {status} ({detail})"
    details: dict[str, Any] = {"network": NETWORK, "operation": operation, "status": status}
    if status == 401:
        return ReauthRequired(
            f"X refused the access token (expired or revoked): {where}", **details
        )
    if status == 429:
        scope = ratelimits.x_limited_scope(response.headers)
        if scope == ratelimits.APP_24H:  # the app's 24-hour post cap: every channel waits
            reset = ratelimits.x_signals(response.headers)
            wait = next((s.wait for s in reset if s.scope == scope), None)
            return RateLimited(
                f"X's 24-hour post limit of this app is reached (every channel of the app "
                f"waits): {where}",
                retry_after=DEFAULT_RETRY_AFTER if wait is None else wait,
                scope=scope,
                **details,
            )
        wait = retry_after(response.headers)
        return RateLimited(
            f"X rate limit reached: {where}",
            retry_after=DEFAULT_RETRY_AFTER if wait is None else wait,
            **details,
        )
    if status >= 500 or status == 408:
        return TransientError(f"X is unavailable: {where}", **details)
    lower = detail.lower()
    if status == 403:
        if "duplicate" in lower:
            return InvalidPayload(
                f"X refuses a post identical to a recent one: {where}",
                issues=["duplicate_content"],
                **details,
            )
        if any(marker in kind for marker in _SCOPE_TYPES) or any(
            word in lower for word in _SCOPE_WORDS
        ):
            dm = operation.startswith("dm")
            missing = (
                ("dm.write" if write else "dm.read")
                if dm
                else ("tweet.write" if write else "tweet.read")
            )
            return InsufficientScopes(
                "the X app or token lacks a permission this needs (check the app's access "
                "level and the scopes tweet.read tweet.write users.read dm.read dm.write "
                f"offline.access): {where}",
                missing=[missing],
                **details,
            )
        return InvalidPayload(f"X refused the request: {where}", issues=[lower], **details)
    if status in (400, 404, 413, 422):
        return InvalidPayload(f"X rejected the request: {where}", issues=[lower], **details)
    return ProviderError(f"X: {where}", code=f"x_{status}", **details)


class XClient:
    """``get``/``post`` → the decoded JSON answer, or a shared provider error."""

    def __init__(
        self,
        http: httpx.Client,
        token: str | None,
        *,
        base_url: str = "",
        signals: list[ratelimits.AppSignal] | None = None,
    ) -> None:
        self.http = http
        #: The 24-hour caps of every answer (``x-app-limit-24hour-*``, ``x-user-limit-…``).
        self.signals: list[ratelimits.AppSignal] = [] if signals is None else signals
        self._token = token or ""
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")

    def _headers(self) -> dict[str, str]:
        if not self._token:
            raise ReauthRequired("no X access token: connect the account again", network=NETWORK)
        return {"Authorization": f"Bearer {self._token}"}

    def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        files: Sequence[tuple[str, tuple[str, bytes, str]]] = (),
        multipart: bool = False,
    ) -> Any:
        """``multipart`` sends ``data`` as multipart/form-data fields even without files (the
        media upload's INIT and FINALIZE commands are documented that way)."""
        parts: list[tuple[str, Any]] = list(files)
        if multipart and data:
            parts = [(key, (None, value)) for key, value in data.items()] + parts
            data = None
        request = self.http.build_request(
            method,
            f"{self.base_url}{path}",
            params={k: str(v) for k, v in (params or {}).items()} or None,
            json=json,
            data=dict(data) if data else None,
            files=parts or None,
            headers=self._headers(),
        )
        # Status mapping is X's own (403 and 400 mean different things here), so the answer
        # is read before the generic mapping of ``send`` sees it.
        response = send_raw(self.http, request, network=NETWORK)
        self.signals.extend(ratelimits.x_signals(response.headers))
        if response.status_code >= 400:
            raise error_for(response, operation=operation, write=method != "GET")
        return self._decode(response, operation)

    @staticmethod
    def _decode(response: httpx.Response, operation: str) -> Any:
        if response.status_code == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise TransientError(
                f"X answered {operation} with something that is not JSON", network=NETWORK
            ) from None

    def get(
        self, path: str, *, operation: str, params: Mapping[str, str | int] | None = None
    ) -> Any:
        return self.request("GET", path, operation=operation, params=params)

    def post(self, path: str, *, operation: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, operation=operation, json=json, **kwargs)
