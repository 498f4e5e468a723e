"""Turning HTTP outcomes into the shared provider errors, and reading rate-limit headers.

Networks signal limits differently: ``Retry-After`` (seconds or an HTTP date; Mastodon, Meta,
Telegram's JSON ``parameters.retry_after``), ``x-rate-limit-reset`` (X: epoch seconds),
``ratelimit-reset`` (Bluesky, the IETF draft: seconds from now or epoch). The functions here
read all of them; providers add what is peculiar to their network.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

import httpx

from dialogo.providers.errors import (
    InsufficientScopes,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
    ReauthRequired,
    TransientError,
)

DEFAULT_RETRY_AFTER = 60.0
# Above this, a "reset" number is an epoch timestamp rather than a delay in seconds.
_EPOCH_THRESHOLD = 10**9


@dataclasses.dataclass(frozen=True)
class RateLimitState:
    limit: int | None
    remaining: int | None
    reset_after: float | None  # seconds from now


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def _delay_from_reset(value: str | None, now: dt.datetime) -> float | None:
    number = _number(value)
    if number is not None:
        if number > _EPOCH_THRESHOLD:
            return max(0.0, number - now.timestamp())
        return max(0.0, number)
    if value:
        try:  # some networks send an ISO date
            when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return max(0.0, (when - now).total_seconds())
    return None


def retry_after(headers: Mapping[str, str], now: dt.datetime | None = None) -> float | None:
    """Seconds to wait according to the response headers, or ``None`` if they do not say."""
    now = now or dt.datetime.now(dt.UTC)
    lower = {k.lower(): v for k, v in headers.items()}
    value = lower.get("retry-after")
    if value is not None:
        number = _number(value)
        if number is not None:
            return max(0.0, number)
        try:
            return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
        except (TypeError, ValueError):
            pass
    for key in ("x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset"):
        delay = _delay_from_reset(lower.get(key), now)
        if delay is not None:
            return delay
    return None


def rate_limit_state(headers: Mapping[str, str], now: dt.datetime | None = None) -> RateLimitState:
    lower = {k.lower(): v for k, v in headers.items()}

    def first(*keys: str) -> str | None:
        return next((lower[k] for k in keys if k in lower), None)

    limit = _number(first("x-rate-limit-limit", "x-ratelimit-limit", "ratelimit-limit"))
    remaining = _number(
        first("x-rate-limit-remaining", "x-ratelimit-remaining", "ratelimit-remaining")
    )
    reset = _delay_from_reset(
        first("x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset"),
        now or dt.datetime.now(dt.UTC),
    )
    return RateLimitState(
        limit=int(limit) if limit is not None else None,
        remaining=int(remaining) if remaining is not None else None,
        reset_after=reset,
    )


def raise_for_status(response: httpx.Response, *, network: str) -> httpx.Response:
    """Map an error response to the shared errors; return the response when it succeeded."""
    status = response.status_code
    if status < 400:
        return response
    detail = _detail(response)
    if status == 401:
        raise ReauthRequired(f"{network} refused the credentials: {detail}", network=network)
    if status == 403 and "scope" in detail.lower():
        raise InsufficientScopes(f"{network} needs more permissions: {detail}", network=network)
    if status == 429:
        wait = retry_after(response.headers)
        raise RateLimited(
            f"{network} rate limit reached",
            retry_after=DEFAULT_RETRY_AFTER if wait is None else wait,
            network=network,
        )
    if status >= 500 or status == 408:
        raise TransientError(f"{network} answered {status}: {detail}", network=network)
    raise ProviderError(
        f"{network} answered {status}: {detail}", code=f"http_{status}", network=network
    )


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("error_description", "message", "detail", "error", "title", "description"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:300]
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return str(value["message"])[:300]
    return response.text[:300]


def transport_error(exc: httpx.HTTPError, request: httpx.Request, *, network: str) -> ProviderError:
    """The shared error for a request that got no answer: a failure before the request left is
    a plain transient error; a timeout after a non-idempotent request left is
    ``OutcomeUnknown`` (the network may have acted on it)."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return TransientError(f"could not reach {network}: {exc}", network=network)
    if request.method in ("GET", "HEAD", "OPTIONS", "PUT", "DELETE"):
        return TransientError(f"{network} did not answer: {exc}", network=network)
    return OutcomeUnknown(
        f"{network} did not answer after the request was sent; it may have been applied",
        network=network,
    )


_TRANSPORT_ERRORS = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
)


def send(client: httpx.Client, request: httpx.Request, *, network: str) -> httpx.Response:
    """Send a request, map transport failures (:func:`transport_error`) and error statuses
    (:func:`raise_for_status`)."""
    return raise_for_status(send_raw(client, request, network=network), network=network)


def send_raw(client: httpx.Client, request: httpx.Request, *, network: str) -> httpx.Response:
    """Send a request and map transport failures only; the caller reads error statuses with
    its network's own rules."""
    try:
        return client.send(request)
    except _TRANSPORT_ERRORS as exc:
        raise transport_error(exc, request, network=network) from exc
