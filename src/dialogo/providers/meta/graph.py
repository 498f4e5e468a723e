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

:func:`listed_posts` pages an account's posts (Facebook ``/<page>/published_posts``,
Instagram ``/<ig-user>/media``, Threads ``/<threads-user>/threads``) for
:meth:`~dialogo.providers.base.Provider.recent_posts`, by the Graph API's own cursors.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from dialogo.providers import ratelimits
from dialogo.providers.base import PublishResult, RecentPosts, collect_pages
from dialogo.providers.errors import (
    InsufficientScopes,
    InvalidPayload,
    ProviderError,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.fields import identifier, mapping, text, timestamp
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


#: The query parameters of a ``paging.next`` link that say where the next page starts: the
#: ``after`` cursor (cursor-based pagination) or ``until``/``since`` and ``__paging_token``
#: (time-based pagination, which some Page edges still answer with).
_PAGING_PARAMS = ("after", "until", "since", "__paging_token")


def _next_cursor(
    body: Mapping[str, Any], items: list[dict[str, Any]], *, follow_after: bool, network: str
) -> str | None:
    """Where the page after ``body`` starts (a query string), ``None`` when the network says
    there is no next page.

    Meta's "Paginated Results" guide (developers.facebook.com/docs/graph-api/results):
    ``paging.cursors.after`` "points to the end of the page of data that has been returned";
    ``paging.next`` is "the Graph API endpoint that will return the next page of data. If not
    included, this is the last page of data", and "a query may return fewer than the value of
    ``limit``", even an empty page that still has a ``next`` link: so the end is the absence of
    ``next``, never a short page. The next page is read again from our own base address with
    the link's paging parameters (the token stays in the header; the link is not fetched).

    ``follow_after``: the Threads reference documents ``before``/``after`` cursors only (its
    example answer has ``paging.cursors`` and no ``next``), so there a non-empty page with an
    ``after`` cursor is followed too, and only an empty page (or one without a cursor) ends
    the listing: one request more at the end, never a listing cut short."""
    paging = mapping(body.get("paging"))
    after = text(mapping(paging.get("cursors")).get("after"))
    link = text(paging.get("next"))
    if link is not None:
        query = urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query)
        carried = [(k, v) for k, v in query if k in _PAGING_PARAMS]
        if carried:
            return urllib.parse.urlencode(carried)
        if after is not None:
            return urllib.parse.urlencode({"after": after})
        raise ProviderError(
            f"{network.capitalize()} said there is a next page without saying where it starts",
            code=f"{network}_unexpected",
        )
    if follow_after and items and after is not None:
        return urllib.parse.urlencode({"after": after})
    return None


def listed_posts(
    graph: GraphClient,
    path: str,
    *,
    operation: str,
    text_field: str,
    time_field: str,
    url_field: str,
    limit: int,
    page_size: int,
    url_for: Callable[[str], str | None] = lambda _id: None,
    follow_after: bool = False,
    since: dt.datetime | None = None,
) -> RecentPosts:
    """The account's latest ``limit`` posts on the edge ``path``, newest first, paged by the
    Graph API's cursors (:func:`_next_cursor`) at most ``page_size`` a request
    (:func:`~dialogo.providers.base.collect_pages` says whether the listing is exhausted).

    Each post's state is what reconciliation compares: its ``text`` and its ``created_at``
    (ISO 8601 in UTC; Meta sends ``2026-11-21T09:00:00+0000``). An error answer on any page
    raises the shared error (:func:`error_for`): a listing is never cut short silently."""

    def page(cursor: str | None, count: int) -> tuple[list[PublishResult], str | None]:
        params: dict[str, str | int] = dict(urllib.parse.parse_qsl(cursor or ""))
        params.update({"fields": f"id,{text_field},{time_field},{url_field}", "limit": count})
        body = graph.get(path, operation=operation, params=params)
        items = [item for item in body.get("data") or [] if isinstance(item, dict)]
        posts = []
        for item in items:
            post_id = identifier(item.get("id"))
            if post_id is None:
                continue
            created = timestamp(item.get(time_field))
            posts.append(
                PublishResult(
                    remote_id=post_id,
                    url=text(item.get(url_field)) or url_for(post_id),
                    state={
                        "text": text(item.get(text_field)) or "",
                        "created_at": created.isoformat() if created else "",
                    },
                )
            )
        cursor = _next_cursor(body, items, follow_after=follow_after, network=graph.network)
        return posts, cursor

    return collect_pages(page, limit=limit, page_size=page_size, since=since)
