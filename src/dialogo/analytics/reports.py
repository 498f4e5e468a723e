"""ROI per campaign, channel and post; attribution journeys from clicks; the dashboard.

* ROI = (revenue − spend) / spend; ROAS = revenue / spend; CPA = spend / conversions
  (``None`` when the denominator is 0). Revenue is the value of the conversions tied to the
  campaign / channel / post (through their short link or given directly). Amounts are summed
  as given: mixing currencies in one workspace is not converted (not built yet).
* Journeys: the counted clicks of one visitor (a visitor id lives one day, see
  :mod:`dialogo.analytics.links`) in time order, ending in a conversion credited to that
  visitor or not; the channel of a click is its link's channel name (or its ``utm_source``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.analytics import attribution
from dialogo.analytics.metrics import (
    engagement_rate_by_followers,
    engagement_rate_by_reach,
    engagements,
)
from dialogo.analytics.models import (
    METRIC_FIELDS,
    Conversion,
    LinkClick,
    MetricDailyTotal,
    MetricVariantTotal,
    ShortLink,
    Spend,
)
from dialogo.analytics.schemas import (
    Attribution,
    DailyPoint,
    Dashboard,
    PostPerformance,
    RoiRow,
)
from dialogo.channels.models import Channel
from dialogo.core.clock import ensure_aware
from dialogo.core.errors import InvalidInput
from dialogo.publishing.models import Campaign, PostVariant


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _sums(session: Session, workspace_id: int, column: Any) -> dict[str, dict[Any, float]]:
    spend: dict[Any, Any] = dict(
        session.execute(
            select(getattr(Spend, column), func.sum(Spend.amount))
            .where(Spend.workspace_id == workspace_id)
            .group_by(getattr(Spend, column))
        ).all()
    )
    revenue: dict[Any, float] = {}
    conversions: dict[Any, float] = {}
    for key, value, n in session.execute(
        select(getattr(Conversion, column), func.sum(Conversion.value), func.count(Conversion.id))
        .where(Conversion.workspace_id == workspace_id)
        .group_by(getattr(Conversion, column))
    ).all():
        revenue[key], conversions[key] = float(value or 0), float(n)
    clicks: dict[Any, Any] = dict(
        session.execute(
            select(getattr(ShortLink, column), func.count(LinkClick.id))
            .join(ShortLink, ShortLink.id == LinkClick.link_id)
            .where(LinkClick.workspace_id == workspace_id, LinkClick.counted.is_(True))
            .group_by(getattr(ShortLink, column))
        ).all()
    )
    return {
        "spend": {k: float(v or 0) for k, v in spend.items()},
        "revenue": revenue,
        "conversions": conversions,
        "clicks": {k: float(v) for k, v in clicks.items()},
    }


def _row(key: str, row_id: int | None, name: str, sums: dict[str, dict[Any, float]]) -> RoiRow:
    spend = sums["spend"].get(row_id, 0.0)
    revenue = sums["revenue"].get(row_id, 0.0)
    conversions = int(sums["conversions"].get(row_id, 0))
    return RoiRow(
        key=key,
        id=row_id,
        name=name,
        spend=round(spend, 2),
        revenue=round(revenue, 2),
        conversions=conversions,
        clicks=int(sums["clicks"].get(row_id, 0)),
        roi=_ratio(revenue - spend, spend),
        roas=_ratio(revenue, spend),
        cpa=_ratio(spend, conversions),
    )


def roi(session: Session, principal: Principal, workspace_id: int, by: str) -> list[RoiRow]:
    authorize(session, principal, workspace_id, Permission.analytics_read)
    return roi_rows(session, workspace_id, by)


def roi_rows(session: Session, workspace_id: int, by: str) -> list[RoiRow]:
    columns = {"campaign": "campaign_id", "channel": "channel_id", "post": "post_id"}
    if by not in columns:
        raise InvalidInput(f"unknown grouping {by!r}; use campaign, channel or post")
    column = columns[by]
    sums = _sums(session, workspace_id, column)
    ids = {k for part in sums.values() for k in part if k is not None}
    names: dict[int, str] = {}
    if by == "campaign":
        for c in session.scalars(select(Campaign).where(Campaign.workspace_id == workspace_id)):
            names[c.id] = c.name
            ids.add(c.id)
    elif by == "channel":
        for ch in session.scalars(select(Channel).where(Channel.workspace_id == workspace_id)):
            names[ch.id] = ch.name
    else:
        names = {i: f"#{i}" for i in ids}
    rows = [_row(by, i, names.get(i, f"#{i}"), sums) for i in sorted(ids)]
    if any(None in part for part in sums.values()):
        rows.append(_row(by, None, "(none)", sums))
    return rows


def journeys(session: Session, workspace_id: int) -> list[attribution.Journey]:
    channel_names = dict(
        session.execute(
            select(Channel.id, Channel.name).where(Channel.workspace_id == workspace_id)
        ).all()
    )
    clicks: dict[str, list[tuple[dt.datetime, str]]] = defaultdict(list)
    for visitor, at, channel_id, utm in session.execute(
        select(LinkClick.visitor, LinkClick.at, ShortLink.channel_id, ShortLink.utm)
        .join(ShortLink, ShortLink.id == LinkClick.link_id)
        .where(LinkClick.workspace_id == workspace_id, LinkClick.counted.is_(True))
        .order_by(LinkClick.at)
    ).all():
        name = channel_names.get(channel_id) if channel_id else None
        clicks[visitor].append(
            (ensure_aware(at), name or str((utm or {}).get("utm_source", "direct")))
        )
    result: list[attribution.Journey] = []
    converted: set[str] = set()
    for visitor, at, value in session.execute(
        select(Conversion.visitor, Conversion.occurred_at, Conversion.value).where(
            Conversion.workspace_id == workspace_id, Conversion.visitor.is_not(None)
        )
    ).all():
        assert visitor is not None
        at = ensure_aware(at)
        before = [(t, c) for t, c in clicks.get(visitor, []) if t <= at]
        if not before:
            continue
        converted.add(visitor)
        result.append(
            attribution.Journey(
                touchpoints=tuple(c for _, c in before),
                converted=True,
                value=float(value),
                hours_before=tuple((at - t).total_seconds() / 3600 for t, _ in before),
            )
        )
    for visitor, path in clicks.items():
        if visitor not in converted:
            result.append(
                attribution.Journey(tuple(c for _, c in path), converted=False, value=0.0)
            )
    return result


def attribution_report(session: Session, principal: Principal, workspace_id: int) -> Attribution:
    authorize(session, principal, workspace_id, Permission.analytics_read)
    found = journeys(session, workspace_id)
    models = attribution.compare(found)
    channels = sorted({c for credit in models.values() for c in credit})
    return Attribution(
        channels=channels,
        models={m: {c: round(v, 2) for c, v in credit.items()} for m, credit in models.items()},
        journeys=len(found),
        conversions=sum(j.converted for j in found),
    )


def daily_series(session: Session, workspace_id: int, *, since: dt.datetime) -> list[DailyPoint]:
    """The workspace's daily totals since ``since`` (one primary-key range read of
    :class:`~dialogo.analytics.models.MetricDailyTotal`, maintained with the rollups)."""
    rows = session.scalars(
        select(MetricDailyTotal)
        .where(MetricDailyTotal.workspace_id == workspace_id, MetricDailyTotal.day >= since.date())
        .order_by(MetricDailyTotal.day)
    ).all()
    points = []
    for row in rows:
        counts: dict[str, int | None] = {f: getattr(row, f) for f in METRIC_FIELDS}
        points.append(
            DailyPoint(
                day=row.day,
                impressions=row.impressions,
                reach=row.reach,
                engagements=engagements(counts),
                clicks=row.clicks,
            )
        )
    return points


def top_posts(
    session: Session, workspace_id: int, *, since: dt.datetime, limit: int = 10
) -> list[PostPerformance]:
    """The posts published since ``since`` with the most engagements so far, with their rates
    (from :class:`~dialogo.analytics.models.MetricVariantTotal`: an index range on the
    publication time, a sort, and one join for the texts)."""
    rows = session.execute(
        select(MetricVariantTotal, PostVariant)
        .join(PostVariant, PostVariant.id == MetricVariantTotal.variant_id)
        .where(
            MetricVariantTotal.workspace_id == workspace_id,
            MetricVariantTotal.published_at >= since,
        )
        .order_by(MetricVariantTotal.engagements.desc(), MetricVariantTotal.variant_id)
        .limit(limit)
    ).all()
    out = []
    for total, v in rows:
        counts: dict[str, int | None] = {f: getattr(total, f) for f in METRIC_FIELDS}
        out.append(
            PostPerformance(
                variant_id=v.id,
                post_id=v.post_id,
                channel_id=v.channel_id,
                network=v.network,
                text=v.text[:140],
                published_at=v.published_at,
                impressions=total.impressions,
                reach=total.reach,
                engagements=total.engagements,
                engagement_rate_reach=engagement_rate_by_reach(counts),
                engagement_rate_followers=engagement_rate_by_followers(counts, total.followers),
            )
        )
    return out


def dashboard(
    session: Session, principal: Principal, workspace_id: int, *, now: dt.datetime, days: int = 30
) -> Dashboard:
    authorize(session, principal, workspace_id, Permission.analytics_read)
    return workspace_dashboard(session, workspace_id, now=now, days=days)


def dashboard_since(now: dt.datetime, days: int) -> dt.datetime:
    """Where a dashboard of the last ``days`` days starts: UTC midnight ``days`` ago."""
    return (now - dt.timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)


def workspace_dashboard(
    session: Session, workspace_id: int, *, now: dt.datetime, days: int
) -> Dashboard:
    """:func:`dashboard` without the permission check (for a job acting for the workspace)."""
    since = dashboard_since(now, days)
    return assemble_dashboard(
        days,
        daily_series(session, workspace_id, since=since),
        top_posts(session, workspace_id, since=since),
        roi_rows(session, workspace_id, "campaign"),
    )


def assemble_dashboard(
    days: int,
    daily: list[DailyPoint],
    top: list[PostPerformance],
    campaigns: list[RoiRow],
) -> Dashboard:
    """A dashboard of these series and rows, with their totals."""
    totals: dict[str, float] = {
        "impressions": sum(p.impressions for p in daily),
        "reach": sum(p.reach for p in daily),
        "engagements": sum(p.engagements for p in daily),
        "clicks": sum(p.clicks for p in daily),
        "revenue": round(sum(c.revenue for c in campaigns), 2),
        "spend": round(sum(c.spend for c in campaigns), 2),
        "conversions": sum(c.conversions for c in campaigns),
    }
    return Dashboard(days=days, totals=totals, daily=daily, top_posts=top, campaigns=campaigns)
