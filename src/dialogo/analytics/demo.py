"""The demo step of measurement (``dialogo demo``, :data:`dialogo.demo.steps.DEMO_STEPS`).

For the demo workspace's sandbox channels:

* **A metrics history.** The sandbox answers "counts so far" at its simulated now, which stands
  still at the end of the history while the demo builds (the channel's ``sim_now``). To give
  the dashboard a real time series, the step replays the history: one provider, its
  ``sim_now`` moved day by day (every hour over the last two days), a snapshot of the posts
  of the previous :data:`SETTLE` days at each step, then one ordinary collection of every post
  of the history. It runs once per workspace (later runs only collect).
* **Conversions.** The sandbox reports purchases and revenue per post
  (``fetch_conversions``); each purchase becomes one conversion credited to its post, channel
  and campaign (order id ``sandbox:<variant>:<n>``, value: the post's revenue split evenly, as
  the sandbox gives no per-order values), so running the step again adds only new ones.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.analytics.conversions import record_conversion
from dialogo.analytics.metrics import collect_metrics, refresh_rollups
from dialogo.analytics.models import METRIC_FIELDS, MetricSnapshot
from dialogo.analytics.schemas import ConversionIn
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.channels.service import open_provider
from dialogo.core.clock import ensure_aware
from dialogo.core.db import transaction
from dialogo.providers.base import Provider
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.sandbox.provider import SandboxProvider
from dialogo.publishing.models import Post, PostVariant

if TYPE_CHECKING:
    from dialogo.core.context import AppContext

SETTLE = dt.timedelta(days=4)  # a sandbox post gathers nothing after 72 hours
HISTORY = dt.timedelta(days=400)


def _sim_now(provider: Provider) -> dt.datetime:
    if not isinstance(provider, SandboxProvider):
        raise TypeError(f"{type(provider).__name__} is not the sandbox provider")
    return provider.now()


def _sandbox_channels(session: Session, workspace_id: int) -> list[Channel]:
    return list(
        session.scalars(
            select(Channel).where(
                Channel.workspace_id == workspace_id, Channel.network == "sandbox"
            )
        )
    )


def replay_history(
    session: Session,
    channel: Channel,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
) -> int:
    """Snapshots of the channel's posts over its simulated history (see the module docstring)."""
    variants = [
        v
        for v in session.scalars(
            select(PostVariant).where(
                PostVariant.channel_id == channel.id,
                PostVariant.remote_id.is_not(None),
                PostVariant.published_at.is_not(None),
            )
        )
    ]
    if not variants:
        return 0
    stored = 0
    with open_provider(session, channel, registry=registry, cipher=cipher) as provider:
        end = _sim_now(provider)
        first = min(ensure_aware(v.published_at) for v in variants if v.published_at)
        steps: list[dt.datetime] = []
        at = first.replace(hour=23, minute=0, second=0, microsecond=0)
        while at < end - dt.timedelta(days=2):
            steps.append(at)
            at += dt.timedelta(days=1)
        while at < end:
            steps.append(at)
            at += dt.timedelta(hours=1)
        followers = provider.verify().followers
        for step in steps:
            provider.config["sim_now"] = step.isoformat()
            live = [
                v
                for v in variants
                if v.published_at and step - SETTLE <= ensure_aware(v.published_at) <= step
            ]
            if not live:
                continue
            by_remote = {v.remote_id: v for v in live}
            for m in provider.fetch_metrics([str(v.remote_id) for v in live]):
                variant = by_remote[m.remote_id]
                session.add(
                    MetricSnapshot(
                        workspace_id=variant.workspace_id,
                        variant_id=variant.id,
                        observed_at=step,
                        followers=followers,
                        **{f: getattr(m, f) for f in METRIC_FIELDS},
                    )
                )
                stored += 1
        provider.config["sim_now"] = end.isoformat()
    session.flush()
    refresh_rollups(session, variants)
    return stored


def import_sandbox_conversions(
    session: Session,
    channel: Channel,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
) -> int:
    variants = {
        v.remote_id: v
        for v in session.scalars(
            select(PostVariant).where(
                PostVariant.channel_id == channel.id, PostVariant.remote_id.is_not(None)
            )
        )
    }
    if not variants:
        return 0
    campaign_of = dict(
        session.execute(
            select(Post.id, Post.campaign_id).where(
                Post.id.in_({v.post_id for v in variants.values()})
            )
        ).all()
    )
    created = 0
    with open_provider(session, channel, registry=registry, cipher=cipher) as provider:
        now = _sim_now(provider)
        fetch = getattr(provider, "fetch_conversions", None)
        if fetch is None:
            return 0
        for row in fetch([str(r) for r in variants]):
            purchases = int(row["purchases"])
            if purchases == 0:
                continue
            variant = variants[row["remote_id"]]
            revenue = decimal.Decimal(str(row["revenue_eur"]))
            each = (revenue / purchases).quantize(decimal.Decimal("0.01"))
            for n in range(purchases):
                value = each if n < purchases - 1 else revenue - each * (purchases - 1)
                at = ensure_aware(variant.published_at) if variant.published_at else now
                _, new = record_conversion(
                    session,
                    channel.workspace_id,
                    ConversionIn(
                        order_id=f"sandbox:{variant.id}:{n}",
                        value=value,
                        occurred_at=at + dt.timedelta(hours=1),
                        channel_id=channel.id,
                        post_id=variant.post_id,
                        campaign_id=campaign_of.get(variant.post_id),
                    ),
                    source="network",
                    now=now,
                )
                created += new
    return created


def demo_step(ctx: AppContext, workspace_id: int) -> None:
    """Metrics history, a fresh collection and the sandbox's conversions for the workspace."""
    cipher = CredentialCipher.from_settings(ctx.settings)
    with transaction(ctx.session_factory) as session:
        replayed = session.scalar(
            select(func.count(MetricSnapshot.id)).where(MetricSnapshot.workspace_id == workspace_id)
        )
        for channel in _sandbox_channels(session, workspace_id):
            if not replayed:
                replay_history(session, channel, registry=ctx.providers, cipher=cipher)
            with open_provider(session, channel, registry=ctx.providers, cipher=cipher) as p:
                now = _sim_now(p)
            collect_metrics(
                session,
                registry=ctx.providers,
                cipher=cipher,
                now=now,
                workspace_id=workspace_id,
                recent=HISTORY,
            )
            import_sandbox_conversions(session, channel, registry=ctx.providers, cipher=cipher)
