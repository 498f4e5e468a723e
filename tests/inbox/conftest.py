"""Inbox fixtures: a brand with a channel on an in-process fake network whose inbox the test
scripts (pages of inbound messages, malformed items, errors)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User, Workspace
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.core.clock import FrozenClock
from dialogo.core.config import Settings
from dialogo.inbox import tasks
from dialogo.inbox.ingest import Enrichment
from dialogo.jobs.registry import TaskRegistry
from dialogo.providers.base import Author, InboundMessage, MessageKind, MessagePage, Provider
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeAccount, FakeNetwork
from dialogo.worker.runner import Worker
from tests.factories import make_user, make_workspace
from tests.publishing.conftest import connect

START = dt.datetime(2031, 3, 1, 8, 0, tzinfo=dt.UTC)


class InboxNetwork(FakeNetwork):
    """A fake network whose ``fetch_messages`` pages through ``messages`` (the cursor is the
    index of the next item), ``page_size`` at a time."""

    def __init__(self, name: str = "inboxnet") -> None:
        super().__init__(name)
        self.messages: list[Any] = []
        self.page_size = 100
        self._seq = itertools.count(1)

    def message(
        self,
        text: str,
        *,
        author: str = "alice",
        followers: int | None = None,
        conversation_id: str | None = None,
        in_reply_to: str | None = None,
        kind: MessageKind = MessageKind.mention,
        at: dt.datetime | None = None,
        remote_id: str | None = None,
    ) -> InboundMessage:
        n = next(self._seq)
        message = InboundMessage(
            remote_id=remote_id or f"msg-{n}",
            kind=kind,
            author=Author(
                remote_id=f"id-{author}",
                handle=author,
                display_name=author.title(),
                followers=followers,
            ),
            text=text,
            created_at=at or START + dt.timedelta(minutes=n),
            conversation_id=conversation_id,
            in_reply_to=in_reply_to,
            raw={"cid": f"cid-{n}"},
        )
        self.messages.append(message)
        return message

    def provider_class(self) -> type[Provider]:
        base = super().provider_class()
        network = self

        class InboxProvider(base):  # type: ignore[valid-type, misc]
            def fetch_messages(self, since: str | None) -> MessagePage:
                network._call("fetch_messages", self.credentials)
                start = int(since or 0)
                chunk = network.messages[start : start + network.page_size]
                return MessagePage(messages=chunk, cursor=str(start + len(chunk)))

        return InboxProvider


def keyword_analyser(text: str, language: str | None) -> Enrichment:
    """A predictable stand-in for dialogo.nlp in tests of the plumbing."""
    lowered = text.lower()
    negative = any(w in lowered for w in ("terrible", "broken", "awful"))
    return Enrichment(
        language=language or "en",
        sentiment=-0.8 if negative else 0.1,
        label="negative" if negative else "neutral",
        is_question="?" in text,
        is_complaint="broken" in lowered,
    )


@pytest.fixture
def network() -> InboxNetwork:
    return InboxNetwork()


@pytest.fixture
def providers(network: InboxNetwork) -> ProviderRegistry:
    return ProviderRegistry({network.name: network.provider_class()})


@pytest.fixture
def cipher(settings: Settings) -> CredentialCipher:
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


@pytest.fixture
def brand(
    db: Session, network: InboxNetwork, providers: ProviderRegistry, cipher: CredentialCipher
) -> Brand:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    account = network.add_account("caffe_aurora")
    channel = connect(db, owner, workspace.id, network, providers, cipher, account)  # type: ignore[arg-type]
    return Brand(owner, workspace, channel, account)


@dataclasses.dataclass
class Rig:
    db: Session
    factory: sessionmaker[Session]
    clock: FrozenClock
    worker: Worker
    brand: Brand
    network: InboxNetwork
    providers: ProviderRegistry

    def run(self) -> int:
        ran = 0
        while self.worker.run_once():
            ran += 1
        self.db.expire_all()
        return ran


@pytest.fixture
def rig(
    db: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    brand: Brand,
    network: InboxNetwork,
    providers: ProviderRegistry,
) -> Rig:
    registry = TaskRegistry()
    tasks.register(registry, providers=lambda _settings: providers)
    clock = FrozenClock(START + dt.timedelta(days=1))
    worker = Worker(settings, session_factory, registry, clock=clock, worker_id="host:1:inbox")
    db.commit()
    return Rig(db, session_factory, clock, worker, brand, network, providers)
