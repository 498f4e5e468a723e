"""Channels: connect with verified credentials, encrypted at rest, refreshed ahead of expiry,
flagged (and the team notified) when the network refuses them, with nothing lost."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import AuditEntry
from dialogo.accounts.permissions import Role
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher, CredentialsUnreadable, generate_key
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.channels.schemas import ChannelConnect, ChannelCredentialsIn
from dialogo.core.context import AppContext
from dialogo.core.errors import InvalidInput, NotFound, PermissionDenied
from dialogo.notifications.models import Notification
from dialogo.providers.errors import RateLimited, TransientError
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeNetwork, credentials_for
from dialogo.server import create_app
from tests.factories import PASSWORD, add_member, make_user, make_workspace


@pytest.fixture
def network() -> FakeNetwork:
    return FakeNetwork("fakenet")


@pytest.fixture
def registry(network: FakeNetwork) -> ProviderRegistry:
    return ProviderRegistry({network.name: network.provider_class()})


@pytest.fixture
def cipher() -> CredentialCipher:
    return CredentialCipher([generate_key()])


def _connect(db: Session, owner, ws, network, registry, cipher, account=None) -> Channel:  # type: ignore[no-untyped-def]
    account = account or network.add_account("brand")
    return channels.connect_channel(
        db,
        accounts.Principal.for_user(owner),
        ws.id,
        ChannelConnect(
            network=network.name,
            credentials=ChannelCredentialsIn(**credentials_for(account)),
        ),
        registry=registry,
        cipher=cipher,
    )


def test_connect_verifies_and_stores_credentials_encrypted(db, network, registry, cipher) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(db)
    ws = make_workspace(db, owner)
    account = network.add_account("caffe_aurora")
    channel = _connect(db, owner, ws, network, registry, cipher, account)
    assert channel.status == ChannelStatus.ok
    assert channel.account_handle == "caffe_aurora"
    assert ("verify", "caffe_aurora") in network.calls
    raw = db.execute(
        text("SELECT credentials FROM channels WHERE id = :id"), {"id": channel.id}
    ).scalar_one()
    assert account.access_token not in raw and account.refresh_token not in raw  # type: ignore[operator]
    assert cipher.decrypt(raw).access_token == account.access_token
    # nor do secrets reach the audit log
    entries = db.scalars(select(AuditEntry).where(AuditEntry.entity_type == "channels")).all()
    assert entries and all(account.access_token not in str(e.after) for e in entries)


def test_wrong_credentials_are_refused_at_connect_time_with_a_clear_message(
    db, network, registry, cipher
) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(db)
    ws = make_workspace(db, owner)
    with pytest.raises(InvalidInput) as caught:
        channels.connect_channel(
            db,
            accounts.Principal.for_user(owner),
            ws.id,
            ChannelConnect(
                network="fakenet", credentials=ChannelCredentialsIn(access_token="nope")
            ),
            registry=registry,
            cipher=cipher,
        )
    assert caught.value.code == "credentials_rejected"
    assert "refused these credentials" in caught.value.message
    assert db.scalar(select(Channel.id)) is None


def test_unknown_network_is_a_clear_error(db, registry, cipher) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(db)
    ws = make_workspace(db, owner)
    with pytest.raises(InvalidInput, match="unknown network 'myspace'"):
        channels.connect_channel(
            db,
            accounts.Principal.for_user(owner),
            ws.id,
            ChannelConnect(network="myspace", credentials=ChannelCredentialsIn(access_token="x")),
            registry=registry,
            cipher=cipher,
        )


def test_only_managers_connect_and_other_workspaces_see_nothing(
    db, network, registry, cipher
) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(db)
    ws = make_workspace(db, owner)
    editor = add_member(db, ws, owner, Role.editor)
    with pytest.raises(PermissionDenied):
        _connect(db, editor, ws, network, registry, cipher)
    channel = _connect(db, owner, ws, network, registry, cipher)
    assert [
        c.id for c in channels.list_channels(db, accounts.Principal.for_user(editor), ws.id)
    ] == [channel.id]
    stranger = make_user(db)
    other = make_workspace(db, stranger)
    with pytest.raises(NotFound):
        channels.get_channel(db, accounts.Principal.for_user(stranger), ws.id, channel.id)
    with pytest.raises(NotFound):
        channels.get_channel(db, accounts.Principal.for_user(stranger), other.id, channel.id)


def test_revoked_token_flags_the_channel_and_notifies_once(db, network, registry, cipher) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(db)
    ws = make_workspace(db, owner)
    channel = _connect(db, owner, ws, network, registry, cipher)
    network.revoke(channel.account_remote_id)
    principal = accounts.Principal.for_user(owner)
    for _ in range(2):
        channels.check_channel(db, principal, ws.id, channel.id, registry=registry, cipher=cipher)
    assert channel.status == ChannelStatus.reauth_required
    assert "revoked" in (channel.status_reason or "")
    open_notes = db.scalars(
        select(Notification).where(
            Notification.workspace_id == ws.id, Notification.resolved_at.is_(None)
        )
    ).all()
    assert len(open_notes) == 1
    assert "authorised again" in open_notes[0].title
    # Reconnecting the same account with fresh credentials clears the flag and the notification.
    account = network.accounts[channel.account_remote_id]
    account.access_token = "fresh-token"
    again = channels.connect_channel(
        db,
        principal,
        ws.id,
        ChannelConnect(
            network="fakenet", credentials=ChannelCredentialsIn(access_token="fresh-token")
        ),
        registry=registry,
        cipher=cipher,
    )
    assert again.id == channel.id
    assert again.status == ChannelStatus.ok
    assert (
        db.scalar(select(Notification.resolved_at).where(Notification.id == open_notes[0].id))
        is not None
    )


def test_transient_failures_do_not_flag_the_channel(db, network, registry, cipher) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(db)
    ws = make_workspace(db, owner)
    channel = _connect(db, owner, ws, network, registry, cipher)
    network.fail_next(RateLimited("slow down", retry_after=30), TransientError("502"))
    principal = accounts.Principal.for_user(owner)
    for _ in range(2):
        with pytest.raises(channels.NetworkUnavailable):
            channels.check_channel(
                db, principal, ws.id, channel.id, registry=registry, cipher=cipher
            )
    assert channel.status == ChannelStatus.ok


def test_refresh_ahead_of_expiry_never_drops_the_refresh_token(db, registry, cipher) -> None:  # type: ignore[no-untyped-def]
    network = FakeNetwork("fakenet", return_refresh_token=False)  # like networks that omit it
    registry = ProviderRegistry({"fakenet": network.provider_class()})
    owner = make_user(db)
    ws = make_workspace(db, owner)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    account = network.add_account("brand", expires_at=soon)
    channel = _connect(db, owner, ws, network, registry, cipher, account)
    stored = cipher.decrypt(channel.credentials)
    channels.store_credentials(db, channel, cipher, dataclasses.replace(stored, expires_at=soon))
    due = channels.channels_to_refresh(db, margin=dt.timedelta(minutes=15))
    assert [c.id for c in due] == [channel.id]
    original_refresh = account.refresh_token
    assert channels.refresh_channel(db, channel, registry=registry, cipher=cipher)
    after = cipher.decrypt(channel.credentials)
    assert after.access_token == account.access_token != stored.access_token
    assert after.refresh_token == original_refresh  # kept, not replaced by nothing
    assert channel.token_expires_at is not None and channel.token_expires_at > soon
    assert channels.channels_to_refresh(db, margin=dt.timedelta(minutes=15)) == []


def test_a_refused_refresh_flags_the_channel(db, network, registry, cipher) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(db)
    ws = make_workspace(db, owner)
    channel = _connect(db, owner, ws, network, registry, cipher)
    network.revoke(channel.account_remote_id)
    assert not channels.refresh_channel(db, channel, registry=registry, cipher=cipher)
    assert channel.status == ChannelStatus.reauth_required


def test_key_rotation_reencrypts_with_the_new_key(db, network, registry) -> None:  # type: ignore[no-untyped-def]
    old, new = generate_key(), generate_key()
    owner = make_user(db)
    ws = make_workspace(db, owner)
    channel = _connect(db, owner, ws, network, registry, CredentialCipher([old]))
    before = channel.credentials
    assert channels.rotate_credentials_key(db, CredentialCipher([new, old])) >= 1
    assert channel.credentials != before
    assert CredentialCipher([new]).decrypt(channel.credentials).access_token
    with pytest.raises(CredentialsUnreadable):
        CredentialCipher([old]).decrypt(channel.credentials)


def test_channels_api_end_to_end(ctx: AppContext, db, network, registry) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(db)
    ws = make_workspace(db, owner)
    db.commit()
    app_ctx = dataclasses.replace(ctx, providers=registry)
    account = network.add_account("brand")
    with TestClient(create_app(app_ctx)) as client:
        csrf = client.post(
            "/api/v1/auth/session", json={"email": owner.email, "password": PASSWORD}
        ).json()["csrf_token"]
        h = {"X-CSRF-Token": csrf}
        assert [p["network"] for p in client.get("/api/v1/providers").json()] == ["fakenet"]
        r = client.post(
            f"/api/v1/workspaces/{ws.id}/channels",
            json={"network": "fakenet", "credentials": credentials_for(account)},
            headers=h,
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert "credentials" not in body and account.access_token not in r.text
        cid = body["id"]
        r = client.post(
            f"/api/v1/workspaces/{ws.id}/channels",
            json={"network": "fakenet", "credentials": {"access_token": "wrong"}},
            headers=h,
        )
        assert r.status_code == 422 and r.json()["code"] == "credentials_rejected"
        network.revoke(account.remote_id)
        r = client.post(f"/api/v1/workspaces/{ws.id}/channels/{cid}/check", headers=h)
        assert r.json()["status"] == "reauth_required"
        notes = client.get(f"/api/v1/workspaces/{ws.id}/notifications").json()
        assert len(notes) == 1 and notes[0]["kind"] == "channel_attention"
        assert (
            client.delete(f"/api/v1/workspaces/{ws.id}/channels/{cid}", headers=h).status_code
            == 204
        )
        assert client.get(f"/api/v1/workspaces/{ws.id}/channels").json() == []


def test_an_address_that_is_not_a_source_is_bad_input_not_a_network_failure(
    db, network, registry, cipher
) -> None:  # type: ignore[no-untyped-def]
    from dialogo.providers.errors import Disconnected, InvalidPayload

    owner = make_user(db)
    ws = make_workspace(db, owner)
    for error, code in (
        (InvalidPayload("https://example.org is not an RSS or Atom feed"), "invalid_source"),
        (Disconnected("the account was suspended"), "account_unavailable"),
    ):
        network.fail_next(error)
        with pytest.raises(InvalidInput) as caught:
            _connect(db, owner, ws, network, registry, cipher)
        assert caught.value.code == code
        assert error.message in caught.value.message
    assert db.scalar(select(Channel.id)) is None
