"""A brand with one sandbox channel on a small simulated world whose clock the test controls:
shared by the domains that read what the sandbox network offers (listening, measurement).

A conftest imports the fixtures it wants (``from tests.sandbox_brand import brand, …``) and
defines ``sim_clock``, the simulated time its tests start at.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

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
from dialogo.providers.base import Credentials
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.sandbox.provider import DEMO_TOKEN, SandboxProvider, forget_ledgers
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
