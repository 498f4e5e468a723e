"""Renewed credentials are never lost and never overwritten by a stale writer (issue #3).

Each test runs on a committed database of its own (``fresh_database``: SQLite, or PostgreSQL
with ``DIALOGO_TEST_DATABASE_URL``) with sessions of the real engine, so that another
session's or another thread's transaction is what a second worker's would be. The fake
network rotates single-use refresh tokens (OAuth 2.1, X, LinkedIn): a refresh token used
once is refused afterwards.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User
from dialogo.channels import service as channels
from dialogo.channels import tasks as channel_tasks
from dialogo.channels.crypto import CredentialCipher, generate_key
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.channels.schemas import ChannelSettingsUpdate
from dialogo.core.clock import SystemClock
from dialogo.core.db import make_engine, make_session_factory, transaction
from dialogo.jobs.registry import JobContext
from dialogo.notifications.models import Notification
from dialogo.providers.base import ConnectField, ConnectFieldKind, Credentials, Provider
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeAccount, FakeNetwork
from tests.conftest import make_settings
from tests.factories import make_user, make_workspace
from tests.publishing.conftest import connect


class Boom(Exception):
    """The caller's unit of work fails after the provider renewed the credentials."""


@dataclasses.dataclass
class Rig:
    engine: Engine
    factory: sessionmaker[Session]
    network: FakeNetwork
    registry: ProviderRegistry
    cipher: CredentialCipher
    account: FakeAccount
    owner_id: int
    workspace_id: int
    channel_id: int

    def stored(self) -> Credentials:
        """The credentials committed now, read in a session of their own."""
        with self.factory() as session:
            blob = session.scalar(select(Channel.credentials).where(Channel.id == self.channel_id))
            assert blob is not None
            return self.cipher.decrypt(blob)

    def status(self) -> str:
        with self.factory() as session:
            found = session.scalar(select(Channel.status).where(Channel.id == self.channel_id))
            assert found is not None
            return found

    def open_notes(self) -> int:
        with self.factory() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(Notification)
                    .where(
                        Notification.workspace_id == self.workspace_id,
                        Notification.resolved_at.is_(None),
                    )
                )
                or 0
            )

    def refresh(self, session: Session, channel: Channel | None = None) -> bool:
        found = channel or session.get(Channel, self.channel_id)
        assert found is not None
        return channels.refresh_channel(
            session, found, registry=self.registry, cipher=self.cipher, http=None
        )


def _registry(network: FakeNetwork) -> ProviderRegistry:
    """The fake network's provider, with one editable extra field (a webhook secret)."""
    base = network.provider_class()

    class WithSettings(base):  # type: ignore[valid-type,misc]
        connect_fields = (
            ConnectField("access_token", "Access token", secret=True),
            ConnectField(
                "webhook_secret", "Webhook secret", kind=ConnectFieldKind.extra, required=False
            ),
        )

    provider: type[Provider] = WithSettings
    return ProviderRegistry({network.name: provider})


def _rig(tmp_path: Path, url: str, network: FakeNetwork) -> Iterator[Rig]:
    engine = make_engine(make_settings(tmp_path, url))
    factory = make_session_factory(engine)
    registry = _registry(network)
    cipher = CredentialCipher([generate_key()])
    account = network.add_account("brand")
    try:
        with transaction(factory) as session:
            owner = make_user(session)
            workspace = make_workspace(session, owner)
            channel = connect(session, owner, workspace.id, network, registry, cipher, account)
            ids = owner.id, workspace.id, channel.id
        rig = Rig(engine, factory, network, registry, cipher, account, *ids)
        with transaction(factory) as session:
            _save_setting(rig, session, "s0")
        yield rig
    finally:
        engine.dispose()


@pytest.fixture
def rig(fresh_database: str, tmp_path: Path) -> Iterator[Rig]:
    yield from _rig(tmp_path, fresh_database, FakeNetwork("fakenet"))


@pytest.fixture
def rig_no_refresh_token(fresh_database: str, tmp_path: Path) -> Iterator[Rig]:
    """A network that omits the refresh token from its refresh answers (it did not change)."""
    yield from _rig(tmp_path, fresh_database, FakeNetwork("fakenet", return_refresh_token=False))


# (i) -----------------------------------------------------------------------------------------


def test_a_renewal_survives_the_callers_rollback(rig: Rig) -> None:
    """The refresh job (or a publish) renews, then its unit of work fails: the rotated refresh
    token, the only one the network accepts now, is stored all the same."""
    old = rig.stored()
    with pytest.raises(Boom), transaction(rig.factory) as session:
        assert rig.refresh(session)
        make_user(session)  # the caller goes on writing in its own unit of work...
        raise Boom  # ...which rolls back
    stored = rig.stored()
    assert stored.refresh_token == rig.account.refresh_token != old.refresh_token
    assert stored.access_token == rig.account.access_token
    assert stored.extra == {"webhook_secret": "s0"}
    # and it works: the next refresh uses it
    with transaction(rig.factory) as session:
        assert rig.refresh(session)
    assert rig.stored().refresh_token == rig.account.refresh_token
    assert rig.status() == ChannelStatus.ok


def test_a_renewal_inside_a_failing_provider_block_is_kept(rig: Rig) -> None:
    """Any caller of ``open_provider`` (inbox poll, metrics, a publish check): the provider
    renews while working, then the work fails and the caller's transaction rolls back."""
    with pytest.raises(Boom), transaction(rig.factory) as session:
        channel = session.get(Channel, rig.channel_id)
        assert channel is not None
        with channels.open_provider(
            session, channel, registry=rig.registry, cipher=rig.cipher
        ) as provider:
            provider.credentials = provider.credentials.merged(provider.refresh())
            raise Boom
    assert rig.stored().refresh_token == rig.account.refresh_token


# (ii) ----------------------------------------------------------------------------------------


def test_two_interleaved_refreshers_keep_the_last_token_and_flag_nothing(rig: Rig) -> None:
    """Two workers read the same credentials; the first renews (rotating the single-use
    refresh token) and stores; the second's refresh, with the token it read, is refused by
    the network. It must not flag the channel: it takes the stored credentials and renews
    once more. The refresh token stored is the last one the network issued."""
    with rig.factory() as first, rig.factory() as second:
        a = first.get(Channel, rig.channel_id)
        b = second.get(Channel, rig.channel_id)
        assert a is not None and b is not None and a.credentials == b.credentials
        assert rig.refresh(first, a)
        first.commit()
        assert rig.refresh(second, b)
        second.commit()
    assert rig.stored().refresh_token == rig.account.refresh_token
    assert rig.stored().access_token == rig.account.access_token
    assert rig.status() == ChannelStatus.ok
    assert rig.open_notes() == 0
    assert [op for op, _ in rig.network.calls].count("refresh") == 3  # 1 + refused + retried


def test_concurrent_refreshers_in_threads_keep_the_last_token(rig: Rig) -> None:
    """The same with two threads, each with its own session and connection, both holding an
    open transaction while the other writes (real concurrency on PostgreSQL)."""
    read = threading.Barrier(2, timeout=30)
    first_stored = threading.Event()
    errors: list[BaseException] = []
    results: dict[str, bool] = {}

    def worker(name: str, wait: threading.Event | None, done: threading.Event | None) -> None:
        try:
            with transaction(rig.factory) as session:
                channel = session.get(Channel, rig.channel_id)
                assert channel is not None
                if rig.engine.dialect.name == "postgresql":
                    make_user(session)  # each holds a transaction that wrote (an xid)
                read.wait()  # both have read the same credentials
                if wait is not None:
                    assert wait.wait(30)
                results[name] = rig.refresh(session, channel)
                if done is not None:
                    done.set()
        except BaseException as exc:  # reported below
            errors.append(exc)
            if done is not None:
                done.set()

    threads = [
        threading.Thread(target=worker, args=("first", None, first_stored)),
        threading.Thread(target=worker, args=("second", first_stored, None)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert results == {"first": True, "second": True}
    assert rig.stored().refresh_token == rig.account.refresh_token
    assert rig.status() == ChannelStatus.ok
    assert rig.open_notes() == 0


# (iii) ---------------------------------------------------------------------------------------


def _save_setting(rig: Rig, session: Session, value: str) -> None:
    owner = session.get(User, rig.owner_id)
    assert owner is not None
    channels.update_channel_settings(
        session,
        accounts.Principal.for_user(owner),
        rig.workspace_id,
        rig.channel_id,
        ChannelSettingsUpdate(values={"webhook_secret": value}),
        registry=rig.registry,
        cipher=rig.cipher,
    )


def test_a_settings_save_between_read_and_renewal_keeps_both(rig: Rig) -> None:
    """A worker reads the credentials, a manager saves a new webhook secret, then the worker's
    provider renews: the renewed token and the new secret are both stored."""
    with transaction(rig.factory) as worker:
        channel = worker.get(Channel, rig.channel_id)
        assert channel is not None
        with channels.open_provider(
            worker, channel, registry=rig.registry, cipher=rig.cipher
        ) as provider:
            with transaction(rig.factory) as manager:
                _save_setting(rig, manager, "s1")
            provider.credentials = provider.credentials.merged(provider.refresh())
        worker.flush()
    stored = rig.stored()
    assert stored.extra == {"webhook_secret": "s1"}
    assert stored.refresh_token == rig.account.refresh_token
    assert stored.access_token == rig.account.access_token


def test_a_renewal_between_a_settings_forms_read_and_save_keeps_both(rig: Rig) -> None:
    """The other way round: the settings save read the channel (its session holds the old
    credentials), a worker renews and stores, then the save writes: the save must not put
    the old tokens back."""
    with transaction(rig.factory) as manager:
        stale = manager.get(Channel, rig.channel_id)  # the form's session has read it
        assert stale is not None
        with transaction(rig.factory) as worker:
            assert rig.refresh(worker)
        _save_setting(rig, manager, "s2")
        assert rig.cipher.decrypt(stale.credentials).refresh_token == rig.account.refresh_token
    stored = rig.stored()
    assert stored.extra == {"webhook_secret": "s2"}
    assert stored.refresh_token == rig.account.refresh_token
    assert stored.access_token == rig.account.access_token
    with transaction(rig.factory) as worker:  # the stored refresh token still works
        assert rig.refresh(worker)


def test_a_flag_set_while_our_renewal_was_not_yet_stored_is_cleared_when_it_is(rig: Rig) -> None:
    """Worker A renews inside its provider block (stored when the block ends); meanwhile
    worker B is refused the refresh token A rotated away and, re-reading the stored blob
    before A stored anything, flags the channel. When A's renewal lands, the flag for a
    refused token is stale: the channel is ok again and the notification resolved."""
    with rig.factory() as first, rig.factory() as second:
        a = first.get(Channel, rig.channel_id)
        b = second.get(Channel, rig.channel_id)
        assert a is not None and b is not None
        with channels.open_provider(first, a, registry=rig.registry, cipher=rig.cipher) as p:
            p.credentials = p.credentials.merged(p.refresh())
            assert not rig.refresh(second, b)  # refused, nothing stored yet: flagged
            second.commit()
            assert rig.status() == ChannelStatus.reauth_required
            assert rig.open_notes() == 1
        first.commit()
    assert rig.status() == ChannelStatus.ok
    assert rig.open_notes() == 0
    assert rig.stored().refresh_token == rig.account.refresh_token


# (iv) ----------------------------------------------------------------------------------------


def test_a_revoked_token_still_flags_and_notifies(rig: Rig) -> None:
    """Revoked at the network: flagged and notified, as before, also when another worker's
    renewal made the first refusal look like a race (the retry is refused too)."""
    with rig.factory() as first, rig.factory() as second:
        b = second.get(Channel, rig.channel_id)
        assert b is not None
        assert rig.refresh(first)
        first.commit()
        rig.network.revoke(rig.account.remote_id)
        assert not rig.refresh(second, b)
        second.commit()
    assert rig.status() == ChannelStatus.reauth_required
    assert rig.open_notes() == 1
    # and the credentials the other worker stored are still there (nothing overwritten)
    assert rig.stored().access_token is not None


def test_a_settings_save_is_no_reason_not_to_flag(rig: Rig) -> None:
    """A blob that changed only by a settings save is no renewal: a refused token flags."""
    with rig.factory() as worker:
        channel = worker.get(Channel, rig.channel_id)
        assert channel is not None
        with transaction(rig.factory) as manager:
            _save_setting(rig, manager, "s3")
        rig.network.revoke(rig.account.remote_id)
        assert not rig.refresh(worker, channel)
        worker.commit()
    assert rig.status() == ChannelStatus.reauth_required
    assert rig.open_notes() == 1
    assert rig.stored().extra == {"webhook_secret": "s3"}


# (v) -----------------------------------------------------------------------------------------


def test_an_empty_refresh_token_never_replaces_a_stored_one(rig_no_refresh_token: Rig) -> None:
    rig = rig_no_refresh_token
    kept = rig.stored().refresh_token
    assert kept
    with pytest.raises(Boom), transaction(rig.factory) as session:
        assert rig.refresh(session)
        raise Boom
    stored = rig.stored()
    assert stored.access_token == rig.account.access_token  # the renewal is kept...
    assert stored.refresh_token == kept  # ...and the refresh token was not replaced by none


def test_reconcile_never_writes_back_a_refresh_token_another_writer_rotated() -> None:
    """Both renewed from the same state; ours (the later expiry) wins the access token, but
    the network omitted the refresh token in our answer: the one the other writer got is
    kept, not the one both started from."""
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    base = Credentials("a1", "r1", t0, "acc", {"webhook_secret": "s0"})
    ours = Credentials("a2", "r1", t0 + dt.timedelta(hours=2), "acc", {"webhook_secret": "s0"})
    stored = Credentials("a3", "r3", t0 + dt.timedelta(hours=1), "acc", {"webhook_secret": "s9"})
    merged = channels.reconcile(base, ours, stored)
    assert (merged.access_token, merged.refresh_token) == ("a2", "r3")
    assert merged.expires_at == t0 + dt.timedelta(hours=2)
    assert merged.extra == {"webhook_secret": "s9"}  # a settings save's value survives
    # a stored renewal without a refresh token keeps ours
    stored = Credentials("a3", None, t0 + dt.timedelta(hours=3), "acc", {})
    ours = dataclasses.replace(ours, refresh_token="r2")
    merged = channels.reconcile(base, ours, stored)
    assert (merged.access_token, merged.refresh_token) == ("a3", "r2")
    # a settings save (tokens as read) never wins over a stored renewal, whatever the expiry
    save = dataclasses.replace(base, extra={"webhook_secret": "s5"})
    renewal = Credentials("a4", "r4", None, "acc", {"webhook_secret": "s0"})
    merged = channels.reconcile(base, save, renewal)
    assert (merged.access_token, merged.refresh_token, merged.expires_at) == ("a4", "r4", None)
    assert merged.extra == {"webhook_secret": "s5"}


# no deadlock -----------------------------------------------------------------------------------


def test_a_caller_holding_the_channels_row_gets_the_renewal_in_its_transaction(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller that locked and wrote the channel in its open transaction holds its row (on
    PostgreSQL) or the database's write lock (SQLite): the renewal's own transaction cannot
    write; it is written in the caller's, without waiting for ever and without ``database is
    locked``."""
    monkeypatch.setattr(channels, "RENEWAL_LOCK_TIMEOUT_MS", 50)
    with transaction(rig.factory) as session:
        channel = session.scalars(
            select(Channel).where(Channel.id == rig.channel_id).with_for_update()
        ).one()
        channel.name = "renamed"
        session.flush()
        assert rig.refresh(session, channel)
    stored = rig.stored()
    assert stored.refresh_token == rig.account.refresh_token
    with rig.factory() as session:
        assert session.scalar(select(Channel.name).where(Channel.id == rig.channel_id)) == (
            "renamed"
        )


def test_the_refresh_job_keeps_its_renewals_when_its_unit_of_work_is_rolled_back(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job renews a due channel and then loses its lease (the runner rolls its unit of
    work back): the renewal is stored all the same."""
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    with transaction(rig.factory) as session:
        channel = session.get(Channel, rig.channel_id)
        assert channel is not None
        due = dataclasses.replace(rig.cipher.decrypt(channel.credentials), expires_at=soon)
        channels.store_credentials(session, channel, rig.cipher, due)
    monkeypatch.setattr(
        channel_tasks.ProviderRegistry, "from_entry_points", lambda **_: rig.registry
    )
    monkeypatch.setattr(channel_tasks.CredentialCipher, "from_settings", lambda _: rig.cipher)
    settings = make_settings(tmp_path, rig.engine.url.render_as_string(hide_password=False))
    session = rig.factory()
    try:
        ctx = JobContext(session, settings, SystemClock(), job_id=1, attempt=1, workspace_id=None)
        assert channel_tasks.refresh_tokens(ctx, {}) == {"refreshed": 1, "flagged": 0, "failed": 0}
        session.rollback()
    finally:
        session.close()
    stored = rig.stored()
    assert stored.refresh_token == rig.account.refresh_token
    assert stored.expires_at is not None and stored.expires_at > soon
