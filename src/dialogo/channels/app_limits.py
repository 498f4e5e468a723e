"""Per-app rate limits, shared by every worker through the ``app_rate_limits`` table.

A channel's app is the OAuth client id it was connected with (``config["client_id"]``: X,
Facebook, Instagram, Threads, LinkedIn); channels without one (Bluesky, Mastodon, Matrix,
Telegram, RSS, the sandbox) have only their own, account-level limits.

When a network says the app is limited (:class:`~dialogo.providers.errors.RateLimited` with an
app scope) or its usage reaches :data:`~dialogo.providers.ratelimits.SLOW_DOWN_PERCENT`
(:class:`~dialogo.providers.ratelimits.AppSignal`), :func:`note` stores a window (``until``)
for ``(network, app id, scope)``; the dispatcher's claim and the inbox poller then skip every
channel of that app until it ends (:func:`limited_channel_ids`: an index look-up of the live
windows, and only when one is live a query for its apps' channels; :func:`limited_channels`,
the same as one subquery for the poller's tick). Usage below the threshold is stored too (no
window), for the health page.

A window's ``reason`` is English, in one of two shapes: the app's own usage
(:data:`USAGE_REASON`, "97 % of the app's limit used") or the network's own text of its
refusal. The table has no code column (no schema change for it), so the code the health page
and its API word it by is derived from that text (:func:`reason_code`): ``app_usage_high``
with the percentage, else the provider error ``rate_limited`` with the text as its detail.

The channels of a limited app are found by :attr:`~dialogo.channels.models.Channel.app_key`
(``config["client_id"]`` stored apart, kept in step on every write, indexed with the network:
migration 0019), not by reading every channel's JSON (``benchmarks/app_limits.py`` compares
the two).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from babel.support import NullTranslations
from sqlalchemy import Select, Table, and_, case, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dialogo.channels.models import AppRateLimit, Channel, app_key_of
from dialogo.core import i18n
from dialogo.core.clock import ensure_aware
from dialogo.core.i18n import N_
from dialogo.providers import ratelimits
from dialogo.providers.errors import RateLimited
from dialogo.providers.labels import provider_reason

#: The scopes that hold every channel of an app (the others are the channel's own).
APP_SCOPES = frozenset({ratelimits.APP, ratelimits.APP_24H})
#: The health page shows an app's usage this long after it was last reported.
SHOW_USAGE_FOR = dt.timedelta(hours=1)
#: The reason of a window the app's own usage opened (``percent``: a whole number).
USAGE_REASON = N_("%(percent)s %% of the app's limit used")
USAGE_CODE = "app_usage_high"
#: :data:`USAGE_REASON` in English as :func:`notes_for` writes it (and always wrote it).
_USAGE_TEXT = re.compile(r"(\d+) % of the app's limit used")


def app_id_of(config: Mapping[str, Any] | None) -> str | None:
    """The app (OAuth client id) a channel was connected with, if any."""
    return app_key_of(config)


@dataclasses.dataclass(frozen=True)
class Note:
    """One thing learnt about an app: a window to wait (``until``) and/or usage figures."""

    network: str
    app_id: str
    scope: str
    until: dt.datetime | None = None
    used_percent: float | None = None
    usage: dict[str, Any] = dataclasses.field(default_factory=dict)
    reason: str | None = None


def notes_for(
    network: str,
    config: Mapping[str, Any] | None,
    signals: Iterable[ratelimits.AppSignal],
    *,
    now: dt.datetime,
    error: Exception | None = None,
) -> tuple[list[Note], dt.datetime | None]:
    """What a channel's calls said: the app-level notes to store, and how long the channel
    itself should wait (its own usage near its limit), if at all."""
    app = app_id_of(config)
    notes: list[Note] = []
    own: dt.datetime | None = None
    for signal in signals:
        hold = signal.hold()
        until = now + dt.timedelta(seconds=hold) if hold else None
        if signal.scope in APP_SCOPES:
            if app is not None:
                reason = None
                if until is not None:
                    percent = f"{signal.used_percent or 0:.0f}"
                    reason = i18n.english(USAGE_REASON, {"percent": percent})
                notes.append(
                    Note(
                        network,
                        app,
                        signal.scope,
                        until,
                        signal.used_percent,
                        dict(signal.figures),
                        reason,
                    )
                )
        elif until is not None:
            own = max(own, until) if own else until
    if isinstance(error, RateLimited) and error.scope in APP_SCOPES and app is not None:
        until = now + dt.timedelta(seconds=max(1.0, float(error.retry_after)))
        notes.append(Note(network, app, error.scope, until, None, {}, error.message[:500]))
    return notes, own


def note(session: Session, notes: Sequence[Note], *, now: dt.datetime) -> None:
    """Store the notes (one upsert each, in key order so concurrent writers never deadlock).
    A window only grows: a later, shorter one never shortens a live one."""
    if not notes:
        return
    merged: dict[tuple[str, str, str], Note] = {}
    for n in notes:  # the last figures win; the longest window wins
        key = (n.network, n.app_id, n.scope)
        before = merged.get(key)
        until = n.until
        if before is not None and before.until is not None:
            until = max(before.until, until) if until is not None else before.until
        merged[key] = dataclasses.replace(
            n,
            until=until,
            used_percent=n.used_percent
            if n.used_percent is not None
            else (before.used_percent if before else None),
            usage=n.usage or (before.usage if before else {}),
            reason=n.reason or (before.reason if before else None),
        )
    table = cast(Table, AppRateLimit.__table__)
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    for key in sorted(merged):
        n = merged[key]
        stmt = insert(table).values(
            network=n.network,
            app_id=n.app_id,
            scope=n.scope,
            until=n.until,
            used_percent=n.used_percent,
            usage=n.usage,
            reason=n.reason,
            updated_at=now,
        )
        new, old = stmt.excluded, table.c
        stmt = stmt.on_conflict_do_update(
            index_elements=[old.network, old.app_id, old.scope],
            set_={
                "until": case(
                    (new.until.is_(None), old.until),
                    (old.until.is_(None), new.until),
                    (old.until < new.until, new.until),
                    else_=old.until,
                ),
                "used_percent": case(
                    (new.used_percent.is_(None), old.used_percent), else_=new.used_percent
                ),
                "usage": case((new.used_percent.is_(None), old.usage), else_=new.usage),
                "reason": case((new.reason.is_(None), old.reason), else_=new.reason),
                "updated_at": new.updated_at,
            },
        )
        session.execute(stmt)


def limited_channels(now: dt.datetime) -> Select[Any]:
    """``SELECT channels.id`` of every channel whose app is waiting at ``now`` (usable as a
    subquery). Driven by the live windows (``until`` is indexed), joined to the channels of
    the same network and client id."""
    return (
        select(Channel.id)
        .join(
            AppRateLimit,
            and_(AppRateLimit.network == Channel.network, AppRateLimit.app_id == Channel.app_key),
        )
        .where(AppRateLimit.until > now)
    )


def limited_channel_ids(session: Session, now: dt.datetime) -> set[int]:
    """The ids of the channels whose app is waiting at ``now``: one index look-up of the live
    windows (nearly always none: then that is all), and one query for their apps' channels.
    (Joining both in one statement made SQLite read every channel's ``config`` even with no
    window: about 15 % of a 200-variant claim, ``benchmarks/app_limits.py``.)"""
    apps = session.execute(
        select(AppRateLimit.network, AppRateLimit.app_id).where(AppRateLimit.until > now)
    ).all()
    if not apps:
        return set()
    query = select(Channel.id).where(
        or_(*(and_(Channel.network == n, Channel.app_key == a) for n, a in apps))
    )
    return {int(i) for i in session.scalars(query)}


def earliest_window_end(session: Session, now: dt.datetime) -> dt.datetime | None:
    """When the first live app window ends, if any is live (one index look-up)."""
    found = session.scalar(select(func.min(AppRateLimit.until)).where(AppRateLimit.until > now))
    return ensure_aware(found) if found is not None else None


def app_window(
    session: Session, network: str, config: Mapping[str, Any] | None, now: dt.datetime
) -> AppRateLimit | None:
    """The app's live window that ends last, if the channel's app is waiting."""
    app = app_id_of(config)
    if app is None:
        return None
    return session.scalar(
        select(AppRateLimit)
        .where(
            AppRateLimit.network == network,
            AppRateLimit.app_id == app,
            AppRateLimit.until > now,
        )
        .order_by(AppRateLimit.until.desc())
        .limit(1)
    )


def reason_code(reason: str | None) -> tuple[str | None, dict[str, Any]]:
    """The code and parameters of a stored window ``reason`` (see the module): derived from
    its English text, since the table keeps no code. ``(None, {})`` without a reason."""
    if not reason:
        return None, {}
    usage = _USAGE_TEXT.fullmatch(reason)
    if usage is not None:
        return USAGE_CODE, {"percent": int(usage.group(1))}
    return RateLimited.code, {"detail": reason}


def app_limit_reason(tr: NullTranslations, reason: str | None) -> str:
    """A stored window ``reason`` in the language of ``tr``: the app's usage in words, or the
    rate-limit phrase with the network's own text (never translated) as its detail."""
    code, params = reason_code(reason)
    if code == USAGE_CODE:
        return i18n.translate(tr, USAGE_REASON, params)
    return provider_reason(tr, code, str(params["detail"])) if code else ""


@dataclasses.dataclass(frozen=True)
class AppLimitView:
    """One app of a workspace's channels, as the health page shows it."""

    network: str
    app_id: str
    scope: str
    until: dt.datetime | None  # set while the app's channels wait
    used_percent: float | None
    usage: dict[str, Any]
    reason: str | None
    updated_at: dt.datetime
    channels: int  # this workspace's channels of the app

    @property
    def limited(self) -> bool:
        return self.until is not None

    @property
    def reason_code(self) -> str | None:
        """The type of ``reason``: ``app_usage_high`` or ``rate_limited`` (:func:`reason_code`,
        derived from the stored text); None without a reason."""
        return reason_code(self.reason)[0]

    @property
    def reason_params(self) -> dict[str, Any]:
        """The values of ``reason``'s sentence: ``percent``, or the network's ``detail``."""
        return reason_code(self.reason)[1]


def workspace_limits(
    session: Session, workspace_id: int, *, now: dt.datetime
) -> list[AppLimitView]:
    """The apps of the workspace's channels that are waiting, or whose usage was reported in
    the last :data:`SHOW_USAGE_FOR`; waiting ones first."""
    counts: dict[tuple[str, str], int] = {}
    for network, app in session.execute(
        select(Channel.network, Channel.app_key).where(Channel.workspace_id == workspace_id)
    ):
        if app:
            counts[(network, str(app))] = counts.get((network, str(app)), 0) + 1
    if not counts:
        return []
    rows = session.scalars(
        select(AppRateLimit).where(
            AppRateLimit.network.in_({n for n, _ in counts}),
            AppRateLimit.app_id.in_({a for _, a in counts}),
        )
    ).all()
    out = []
    for row in rows:
        if (row.network, row.app_id) not in counts:
            continue
        until = ensure_aware(row.until) if row.until else None
        live = until if until is not None and until > now else None
        updated = ensure_aware(row.updated_at)
        if live is None and updated < now - SHOW_USAGE_FOR:
            continue
        out.append(
            AppLimitView(
                network=row.network,
                app_id=row.app_id,
                scope=row.scope,
                until=live,
                used_percent=row.used_percent,
                usage=dict(row.usage or {}),
                reason=row.reason if live else None,
                updated_at=updated,
                channels=counts[(row.network, row.app_id)],
            )
        )
    out.sort(key=lambda v: (v.until is None, v.network, v.app_id, v.scope))
    return out
