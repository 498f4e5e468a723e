"""Competitor benchmarking from listening: for the brand's and the competitors' listening
queries, the mentions in a period, the share of voice (a query's mentions over all brand and
competitor mentions), the positive and negative shares and the net sentiment
((positive − negative) / mentions), using a person's correction of a label when there is one.

Public metrics of the competitors' own posts (their likes and reach) are not built: no provider
reads another account's post metrics yet.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.listening.models import ListeningQuery, Mention, MentionMatch, QueryKind

KINDS = (QueryKind.brand.value, QueryKind.competitor.value)


@dataclasses.dataclass(frozen=True)
class VoiceRow:
    query_id: int
    name: str
    kind: str
    mentions: int
    share_of_voice: float | None
    positive: float | None  # share of its mentions
    negative: float | None
    net_sentiment: float | None
    mean_sentiment: float | None


def share_of_voice(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    now: dt.datetime,
    days: int = 30,
) -> list[VoiceRow]:
    authorize(session, principal, workspace_id, Permission.analytics_read)
    since = now - dt.timedelta(days=days)
    label = func.coalesce(Mention.corrected_label, Mention.label)
    counted = (
        select(
            MentionMatch.query_id,
            func.count(Mention.id),
            func.sum(case((label == "positive", 1), else_=0)),
            func.sum(case((label == "negative", 1), else_=0)),
            func.avg(Mention.sentiment),
        )
        .join(Mention, Mention.id == MentionMatch.mention_id)
        .where(
            Mention.workspace_id == workspace_id,
            Mention.posted_at >= since,
            Mention.posted_at <= now,
        )
        .group_by(MentionMatch.query_id)
    )
    stats = {row[0]: row[1:] for row in session.execute(counted).all()}
    queries = list(
        session.scalars(
            select(ListeningQuery)
            .where(ListeningQuery.workspace_id == workspace_id, ListeningQuery.kind.in_(KINDS))
            .order_by(ListeningQuery.kind, ListeningQuery.name)
        )
    )
    total = sum(int(stats.get(q.id, (0,))[0] or 0) for q in queries)
    rows = []
    for q in queries:
        mentions, positive, negative, mean = stats.get(q.id, (0, 0, 0, None))
        n = int(mentions or 0)
        pos, neg = int(positive or 0), int(negative or 0)
        rows.append(
            VoiceRow(
                query_id=q.id,
                name=q.name,
                kind=q.kind,
                mentions=n,
                share_of_voice=n / total if total else None,
                positive=pos / n if n else None,
                negative=neg / n if n else None,
                net_sentiment=(pos - neg) / n if n else None,
                mean_sentiment=float(mean) if mean is not None else None,
            )
        )
    rows.sort(key=lambda r: (-r.mentions, r.name))
    return rows
