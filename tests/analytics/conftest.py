"""Measurement fixtures: a brand with a sandbox channel whose simulated clock the test moves,
and posts published on it through the provider (as the dispatcher does)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.orm import Session

from dialogo.channels import service as channels
from dialogo.core.clock import FrozenClock
from dialogo.providers.base import Draft
from dialogo.publishing import service as publishing
from dialogo.publishing.models import Post, PostStatus, PostVariant, VariantStatus
from dialogo.publishing.schemas import CampaignCreate, PostCreate, VariantIn
from tests.sandbox_brand import (  # noqa: F401 - fixtures used by this package's tests
    CONFIG,
    LIVE,
    Brand,
    _fresh_ledgers,
    brand,
    cipher,
    clocked_sandbox,
    providers,
)


@pytest.fixture
def sim_clock() -> FrozenClock:
    return FrozenClock(LIVE + dt.timedelta(hours=9))


def campaign(db: Session, the_brand: Brand, name: str = "Spring", **extra: Any) -> int:
    return publishing.create_campaign(
        db, the_brand.principal, the_brand.id, CampaignCreate(name=name, **extra)
    ).id


def publish(
    db: Session,
    the_brand: Brand,
    text: str = "Nuova collezione di primavera: https://shop.example/p",
    *,
    campaign_id: int | None = None,
    published_at: dt.datetime | None = None,
) -> PostVariant:
    """A post published on the sandbox channel now (in simulated time), as the dispatcher
    would leave it."""
    post: Post = publishing.create_post(
        db,
        the_brand.principal,
        the_brand.id,
        PostCreate(
            campaign_id=campaign_id,
            variants=[VariantIn(channel_id=the_brand.channel.id, text=text)],
        ),
    )
    variant = post.variants[0]
    with channels.open_provider(
        db, the_brand.channel, registry=the_brand.providers, cipher=the_brand.cipher
    ) as provider:
        result = provider.publish(Draft(text=text, idempotency_key=variant.idempotency_key))
    variant.remote_id = result.remote_id
    variant.url = result.url
    variant.status = VariantStatus.published.value
    variant.published_at = published_at or dt.datetime.now(dt.UTC)
    post.status = PostStatus.published.value
    db.flush()
    return variant
