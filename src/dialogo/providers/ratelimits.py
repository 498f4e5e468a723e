"""App-level rate-limit signals: what the networks say about the *app* (the client id many
channels share), read from their response headers and error answers. Pure functions, no I/O.

A channel's own limits (``RateLimited`` with ``scope="account"``) pause that channel only; an
app's limit pauses every channel connected through the same app, and an app close to its limit
is slowed down before the network refuses it. What each network documents:

- **Meta Graph API** (Facebook Pages, Instagram, Threads), "Rate Limits": ``X-App-Usage`` is
  ``{"call_count": 28, "total_time": 25, "total_cputime": 25}``, each a percentage of the
  app's Platform Rate Limit over a rolling hour; error code 4 ("Application request limit
  reached") is the app's limit. ``X-Business-Use-Case-Usage`` is
  ``{"<business object id>": [{"type": "pages", "call_count": 100, "total_cputime": 25,
  "total_time": 25, "estimated_time_to_regain_access": 19}]}`` (minutes): the limit of one
  business object (a Page, an Instagram account) for the app, i.e. one channel's, so it stays
  account-scoped (``graph.error_for`` already waits what it estimates); its figures are read
  here too so a channel near 100 % is slowed down.
- **X API v2**, "Rate limits": ``x-rate-limit-limit/-remaining/-reset`` per endpoint and per
  user token (account-scoped), plus on ``POST /2/tweets`` ``x-app-limit-24hour-limit/
  -remaining/-reset`` (the app's 24-hour post cap: app-scoped) and ``x-user-limit-24hour-*``
  (the user's: account-scoped). A 429 with ``x-app-limit-24hour-remaining: 0`` is the app's.
- **LinkedIn**, "Rate Limiting": limits are per application and per member, per day, reset at
  midnight UTC; a 429 whose message says ``APPLICATION`` ("Resource level throttle
  APPLICATION DAY limit for calls to this resource is reached.") is the app's, ``MEMBER`` the
  member's.
- **Mastodon** ``X-RateLimit-*`` are per account (and per IP for unauthenticated calls), and
  **Telegram**'s ``retry_after`` (30 messages a second per bot) is per bot, which is the
  channel's own token: both stay account-scoped (no app signal).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

#: A channel scope (the default of ``RateLimited``) and the app's.
ACCOUNT = "account"
APP = "app"
#: The app's 24-hour post cap on X (``x-app-limit-24hour-*``).
APP_24H = "app_24h"
#: At or above this share of a limit used, the app is slowed down before the network refuses.
SLOW_DOWN_PERCENT = 95.0
#: How long an app at :data:`SLOW_DOWN_PERCENT` … 100 % is held (Meta's window rolls over an
#: hour: a short pause lets the oldest calls leave it).
SLOW_DOWN_WAIT = 60.0
#: How long an app whose limit is reached waits when the network does not say (Meta's code 4
#: and ``X-App-Usage`` at 100 % give no time: the rolling hour must drain).
APP_LIMIT_WAIT = 300.0

_META_FIGURES = ("call_count", "total_time", "total_cputime")


@dataclasses.dataclass(frozen=True)
class AppSignal:
    """What one answer said about a limit shared beyond one request.

    ``scope`` is :data:`APP` / :data:`APP_24H` (every channel of the app) or :data:`ACCOUNT`
    (this channel only); ``used_percent`` the largest share of the limit used (0–100) when
    the network says; ``wait`` the seconds until the limit is free again when it says;
    ``figures`` the raw numbers, kept for the health page."""

    scope: str
    used_percent: float | None = None
    wait: float | None = None
    figures: dict[str, Any] = dataclasses.field(default_factory=dict)

    def hold(self) -> float | None:
        """Seconds every call under this scope should wait now, or ``None`` to go on:
        the network's own estimate when it gives one and the limit is (nearly) used up,
        :data:`APP_LIMIT_WAIT` at 100 %, :data:`SLOW_DOWN_WAIT` from
        :data:`SLOW_DOWN_PERCENT`."""
        used = self.used_percent
        if self.wait is not None and self.wait > 0 and (used is None or used >= SLOW_DOWN_PERCENT):
            return self.wait
        if used is None:
            return None
        if used >= 100.0:
            return APP_LIMIT_WAIT
        if used >= SLOW_DOWN_PERCENT:
            return SLOW_DOWN_WAIT
        return None


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _json(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def meta_app_usage(headers: Mapping[str, str]) -> AppSignal | None:
    """``X-App-Usage`` (app-scoped): the largest of the three percentages."""
    usage = _json(_lower(headers).get("x-app-usage"))
    if not isinstance(usage, dict):
        return None
    figures = {k: n for k in _META_FIGURES if (n := _number(usage.get(k))) is not None}
    if not figures:
        return None
    return AppSignal(APP, used_percent=max(figures.values()), figures=figures)


def meta_business_usage(headers: Mapping[str, str]) -> list[AppSignal]:
    """``X-Business-Use-Case-Usage`` (account-scoped: one business object's limit), one
    signal per business object and use-case type, its wait in seconds."""
    usage = _json(_lower(headers).get("x-business-use-case-usage"))
    out: list[AppSignal] = []
    for business_id, entries in usage.items() if isinstance(usage, dict) else []:
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            figures: dict[str, Any] = {
                k: n for k in _META_FIGURES if (n := _number(entry.get(k))) is not None
            }
            minutes = _number(entry.get("estimated_time_to_regain_access"))
            figures.update(business_id=str(business_id), type=str(entry.get("type") or ""))
            percents = [v for k, v in figures.items() if k in _META_FIGURES]
            out.append(
                AppSignal(
                    ACCOUNT,
                    used_percent=max(percents) if percents else None,
                    wait=minutes * 60.0 if minutes else None,
                    figures=figures,
                )
            )
    return out


def meta_signals(headers: Mapping[str, str]) -> list[AppSignal]:
    """Every usage signal of a Graph API answer (success or error)."""
    app = meta_app_usage(headers)
    return ([app] if app is not None else []) + meta_business_usage(headers)


def _window(
    lower: Mapping[str, str], prefix: str, scope: str, now: dt.datetime
) -> AppSignal | None:
    limit = _number(lower.get(f"{prefix}-limit"))
    remaining = _number(lower.get(f"{prefix}-remaining"))
    reset = _number(lower.get(f"{prefix}-reset"))
    if limit is None or remaining is None or limit <= 0:
        return None
    used = max(0.0, min(100.0, 100.0 * (limit - remaining) / limit))
    wait = max(0.0, reset - now.timestamp()) if reset is not None else None
    figures = {"limit": int(limit), "remaining": int(remaining)}
    if reset is not None:
        figures["reset"] = int(reset)
    return AppSignal(scope, used_percent=used, wait=wait, figures=figures)


def x_signals(headers: Mapping[str, str], now: dt.datetime | None = None) -> list[AppSignal]:
    """X's 24-hour caps (``x-app-limit-24hour-*``: the app's; ``x-user-limit-24hour-*``: the
    user's). The per-endpoint ``x-rate-limit-*`` are per user token, read by
    :func:`dialogo.providers.http.retry_after` when a 429 comes."""
    lower = _lower(headers)
    now = now or dt.datetime.now(dt.UTC)
    found = [
        _window(lower, "x-app-limit-24hour", APP_24H, now),
        _window(lower, "x-user-limit-24hour", ACCOUNT, now),
    ]
    return [s for s in found if s is not None]


def x_limited_scope(headers: Mapping[str, str]) -> str:
    """The scope of an X 429: the app's when its 24-hour cap has nothing left."""
    remaining = _number(_lower(headers).get("x-app-limit-24hour-remaining"))
    return APP_24H if remaining is not None and remaining <= 0 else ACCOUNT


def linkedin_limited_scope(message: str) -> str:
    """The scope of a LinkedIn 429 from its message ("… APPLICATION DAY limit …")."""
    return APP if "APPLICATION" in message.upper() else ACCOUNT
