"""A thin synchronous client over Meta's Graph API (``https://graph.facebook.com/<version>``),
shared by the Facebook Pages and Instagram providers.

Why ``httpx`` and not the Facebook Business SDK: the SDK is built for the Marketing API (ad
objects, batch requests, its own ``requests`` session); the providers need a dozen plain Graph
calls through the caller's ``httpx.Client`` and must never sleep or retry.

Errors (:func:`error_for`) follow Meta's "Handling errors" guide: every error answer is
``{"error": {"message", "type", "code", "error_subcode", "is_transient", "fbtrace_id"}}``,
and the ``code`` (not the HTTP status) says what happened:

- 190 (``OAuthException``: expired, revoked, password changed…) and 102 → :class:`ReauthRequired`;
- 10 and 200–299 (a permission the token lacks) → :class:`InsufficientScopes`;
- 4 without a business-use-case estimate (the app's Platform limit), or any rate-limit code
  while ``X-App-Usage`` is at 100 % →
  :class:`RateLimited` with ``scope="app"``: every channel of the app waits
  (:mod:`dialogo.providers.ratelimits`); every answer's usage headers are collected in
  ``GraphClient.signals``;
- 17, 32, 613 and 80001–80014 (user, page and business-use-case rate limits) →
  :class:`RateLimited`, waiting what the ``X-Business-Use-Case-Usage`` header estimates
  (``estimated_time_to_regain_access``, minutes) or else a default; Instagram's daily publishing
  cap (code 9, subcode 2207042) waits an hour and says so;
- 1, 2 and any error marked ``is_transient`` (or an HTTP 5xx) → :class:`TransientError`;
- 100 and the rest (a media URL Meta cannot fetch, a caption too long…) → :class:`InvalidPayload`.

Transport failures follow :func:`dialogo.providers.http.transport_error` (a lost answer to a
POST is :class:`OutcomeUnknown`). The token travels in the ``Authorization`` header, never in a
URL, so no error message carries it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
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
from dialogo.providers.http import DEFAULT_RETRY_AFTER, send_raw

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_VERSION = "v23.0"
_RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
#: "Application request limit reached": the app's Platform Rate Limit, shared by its channels.
_APP_LIMIT_CODE = 4
_PUBLISHING_CAP_SUBCODE = 2207042
_PUBLISHING_CAP_WAIT = 3600.0


def _usage_wait(headers: httpx.Headers) -> float | None:
    """Minutes until access returns, from ``X-Business-Use-Case-Usage`` (the largest)."""
    raw = headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes = [
        entry.get("estimated_time_to_regain_access")
        for entries in (usage.values() if isinstance(usage, dict) else [])
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    waits = [float(m) for m in minutes if isinstance(m, int | float) and not isinstance(m, bool)]
    return max(waits) * 60.0 if waits and max(waits) > 0 else None


def error_for(response: httpx.Response, *, network: str, operation: str) -> ProviderError:
    """The shared provider error for a Graph API error answer (see the module docstring)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
    message = error.get("error_user_msg") or error.get("message") or response.text[:300]
    message = str(message)[:400] or f"HTTP {response.status_code}"
    where = f"{operation} answered {response.status_code} (code {code}: {message})"
    details: dict[str, Any] = {
        "network": network,
        "operation": operation,
        "status": response.status_code,
        "graph_code": code,
        "graph_subcode": subcode,
    }
    name = network.capitalize()
    if code in (190, 102) or (code is None and response.status_code == 401):
        return ReauthRequired(
            f"{name} refused the access token (expired, revoked or the password changed): {where}",
            **details,
        )
    if code == 9 and subcode == _PUBLISHING_CAP_SUBCODE:
        return RateLimited(
            f"{name}'s daily publishing limit for this account is reached: {where}",
            retry_after=_PUBLISHING_CAP_WAIT,
            **details,
        )
    app_usage = ratelimits.meta_app_usage(response.headers)
    business_wait = _usage_wait(response.headers)
    # "If both Platform and Business Use Case rate limits can be applied to a request, BUC
    # rate limits will be applied": a code 4 that carries a BUC estimate is the account's.
    if (code == _APP_LIMIT_CODE and business_wait is None) or (
        code in _RATE_LIMIT_CODES and app_usage is not None and (app_usage.used_percent or 0) >= 100
    ):
        # The app's own limit (every channel connected through it waits), not this account's.
        return RateLimited(
            f"{name}'s app rate limit reached (every channel of this app waits): {where}",
            retry_after=ratelimits.APP_LIMIT_WAIT,
            scope=ratelimits.APP,
            **details,
        )
    if code in _RATE_LIMIT_CODES or response.status_code == 429:
        wait = business_wait
        return RateLimited(
            f"{name} rate limit reached: {where}",
            retry_after=DEFAULT_RETRY_AFTER if wait is None else wait,
            **details,
        )
    if code == 10 or (code is not None and 200 <= code <= 299):
        return InsufficientScopes(
            f"the {name} token lacks a permission this needs: {where}", **details
        )
    if code in (1, 2) or error.get("is_transient") is True or response.status_code >= 500:
        return TransientError(f"{name} is unavailable: {where}", **details)
    return InvalidPayload(f"{name} rejected the request: {where}", issues=[message], **details)


class GraphClient:
    """``get``/``post`` on ``<base>/<version>/<path>`` → the decoded JSON answer."""

    def __init__(
        self,
        http: httpx.Client,
        token: str | None,
        *,
        network: str,
        base_url: str = "",
        version: str = "",
        signals: list[ratelimits.AppSignal] | None = None,
    ) -> None:
        self.http = http
        self.network = network
        #: Every answer's usage headers are appended here (the provider's ``app_signals``).
        self.signals: list[ratelimits.AppSignal] = [] if signals is None else signals
        self._token = token or ""
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.version = version or DEFAULT_VERSION

    def url(self, path: str) -> str:
        return f"{self.base_url}/{self.version}/{path.lstrip('/')}"

    def call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, str | int] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        if not self._token:
            raise ReauthRequired(
                f"no {self.network} access token: connect the account again",
                network=self.network,
            )
        request = self.http.build_request(
            method,
            self.url(path),
            params={k: str(v) for k, v in (params or {}).items()} or None,
            data=dict(data) if data else None,
            headers={"Authorization": f"Bearer {self._token}"},
        )
        response = send_raw(self.http, request, network=self.network)
        self.signals.extend(ratelimits.meta_signals(response.headers))
        if response.status_code >= 400:
            raise error_for(response, network=self.network, operation=operation)
        try:
            body = response.json()
        except ValueError:
            raise TransientError(
                f"{self.network} answered {operation} with something that is not JSON",
                network=self.network,
            ) from None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            raise error_for(response, network=self.network, operation=operation)
        return body if isinstance(body, dict) else {"data": body}

    def get(
        self, path: str, *, operation: str, params: Mapping[str, str | int] | None = None
    ) -> dict[str, Any]:
        return self.call("GET", path, operation=operation, params=params)

    def post(
        self, path: str, *, operation: str, data: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        return self.call("POST", path, operation=operation, data=data)
