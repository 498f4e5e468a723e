"""Measurement fixtures: a brand with a sandbox channel whose simulated clock the test moves,
and posts published on it through the provider (as the dispatcher does)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User, Workspace
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.channels.schemas import ChannelConnect, ChannelCredentialsIn
from dialogo.core.clock import FrozenClock
from dialogo.core.config import Settings
from dialogo.providers.base import Credentials, Draft
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.sandbox.provider import DEMO_TOKEN, SandboxProvider, forget_ledgers
from dialogo.publishing import service as publishing
from dialogo.publishing.models import Post, PostStatus, PostVariant, VariantStatus
from dialogo.publishing.schemas import CampaignCreate, PostCreate, VariantIn
from tests.factories import make_user, make_workspace

# A small world: 30 days of history; the brand's autopilot ends on 2026-01-31 00:00 UTC.
CONFIG = {"seed": "5", "population": "2000", "start": "2026-01-01", "history_days": "30"}
LIVE = dt.datetime(2026, 1, 31, tzinfo=dt.UTC)


def clocked_sandbox(clock: FrozenClock) -> type[SandboxProvider]:
    """The sandbox provider reading simulated time from ``clock``."""

    class ClockedSandbox(SandboxProvider):
        def __init__(
            self,
            credentials: Credentials,
            *,
            http: httpx.Client | None = None,
            config: dict[str, str] | None = None,
        ) -> None:
            super().__init__(credentials, http=http, config=config, clock=clock)

    return ClockedSandbox


@pytest.fixture(autouse=True)
def _fresh_ledgers() -> Iterator[None]:
    forget_ledgers()
    yield
    forget_ledgers()


@pytest.fixture
def sim_clock() -> FrozenClock:
    return FrozenClock(LIVE + dt.timedelta(hours=9))


@pytest.fixture
def providers(sim_clock: FrozenClock) -> ProviderRegistry:
    return ProviderRegistry({"sandbox": clocked_sandbox(sim_clock)})


@pytest.fixture
def cipher(settings: Settings) -> CredentialCipher:
    return CredentialCipher.from_settings(settings)


@dataclasses.dataclass
class Brand:
    owner: User
    workspace: Workspace
    channel: Channel
    providers: ProviderRegistry
    cipher: CredentialCipher

    @property
    def principal(self) -> accounts.Principal:
        return accounts.Principal.for_user(self.owner)

    @property
    def id(self) -> int:
        return self.workspace.id


@pytest.fixture
def brand(db: Session, providers: ProviderRegistry, cipher: CredentialCipher) -> Brand:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    channel = channels.connect_channel(
        db,
        accounts.Principal.for_user(owner),
        workspace.id,
        ChannelConnect(
            network="sandbox",
            credentials=ChannelCredentialsIn(access_token=DEMO_TOKEN),
            config=dict(CONFIG),
        ),
        registry=providers,
        cipher=cipher,
    )
    return Brand(owner, workspace, channel, providers, cipher)


def campaign(db: Session, brand: Brand, name: str = "Spring", **extra: Any) -> int:
    return publishing.create_campaign(
        db, brand.principal, brand.id, CampaignCreate(name=name, **extra)
    ).id


def publish(
    db: Session,
    brand: Brand,
    text: str = "Nuova collezione di primavera: https://shop.example/p",
    *,
    campaign_id: int | None = None,
    published_at: dt.datetime | None = None,
) -> PostVariant:
    """A post published on the sandbox channel now (in simulated time), as the dispatcher
    would leave it."""
    post: Post = publishing.create_post(
        db,
        brand.principal,
        brand.id,
        PostCreate(
            campaign_id=campaign_id, variants=[VariantIn(channel_id=brand.channel.id, text=text)]
        ),
    )
    variant = post.variants[0]
    with channels.open_provider(
        db, brand.channel, registry=brand.providers, cipher=brand.cipher
    ) as provider:
        result = provider.publish(Draft(text=text, idempotency_key=variant.idempotency_key))
    variant.remote_id = result.remote_id
    variant.url = result.url
    variant.status = VariantStatus.published.value
    variant.published_at = published_at or dt.datetime.now(dt.UTC)
    post.status = PostStatus.published.value
    db.flush()
    return variant
