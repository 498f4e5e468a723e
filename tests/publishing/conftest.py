"""Publishing fixtures: a brand (workspace, owner) with a channel on an in-process fake network."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User, Workspace
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.channels.schemas import ChannelConnect, ChannelCredentialsIn
from dialogo.core.config import Settings
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeAccount, FakeNetwork, credentials_for
from dialogo.publishing import service as publishing
from dialogo.publishing.models import Post
from dialogo.publishing.schemas import PostCreate, VariantIn
from tests.factories import make_user, make_workspace


@pytest.fixture
def network() -> FakeNetwork:
    return FakeNetwork("fakenet")


@pytest.fixture
def other_network() -> FakeNetwork:
    return FakeNetwork("shortnet", text_limit=20)


@pytest.fixture
def providers(network: FakeNetwork, other_network: FakeNetwork) -> ProviderRegistry:
    return ProviderRegistry(
        {network.name: network.provider_class(), other_network.name: other_network.provider_class()}
    )


@pytest.fixture
def cipher(settings: Settings) -> CredentialCipher:
    # What the publish job uses: the settings' key.
    return CredentialCipher.from_settings(settings)


@dataclasses.dataclass
class Brand:
    owner: User
    workspace: Workspace
    channel: Channel
    account: FakeAccount

    @property
    def principal(self) -> accounts.Principal:
        return accounts.Principal.for_user(self.owner)

    @property
    def id(self) -> int:
        return self.workspace.id


def connect(
    db: Session,
    brand_owner: User,
    workspace_id: int,
    network: FakeNetwork,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
    account: FakeAccount,
) -> Channel:
    return channels.connect_channel(
        db,
        accounts.Principal.for_user(brand_owner),
        workspace_id,
        ChannelConnect(
            network=network.name, credentials=ChannelCredentialsIn(**credentials_for(account))
        ),
        registry=providers,
        cipher=cipher,
    )


@pytest.fixture
def brand(
    db: Session, network: FakeNetwork, providers: ProviderRegistry, cipher: CredentialCipher
) -> Brand:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    account = network.add_account("caffe_aurora")
    channel = connect(db, owner, workspace.id, network, providers, cipher, account)
    return Brand(owner, workspace, channel, account)


def compose(
    db: Session, brand: Brand, text: str = "Buongiorno!", *, channels: list[Channel] | None = None
) -> Post:
    return publishing.create_post(
        db,
        brand.principal,
        brand.id,
        PostCreate(
            variants=[VariantIn(channel_id=c.id, text=text) for c in channels or [brand.channel]]
        ),
    )


def later(minutes: float = 10) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
