"""Channel settings: a manager renames a connected channel and adds, replaces or clears the
provider's editable fields (webhook and app secrets, configuration) on the web page and through
``PATCH /api/v1/workspaces/{id}/channels/{id}``. Secrets are merged into the encrypted
credentials (the tokens stay), never echoed in HTML or JSON, never written to the audit log;
the X and Meta webhooks accept signatures made with the newly set secret."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.models import AuditEntry, User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.core.context import AppContext
from dialogo.providers.base import Credentials
from dialogo.providers.facebook.provider import FacebookProvider
from dialogo.providers.netpolicy import OutboundPolicy
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.rss.provider import RssProvider
from dialogo.providers.x.provider import XProvider
from dialogo.server import create_app
from tests.api.conftest import session_auth
from tests.factories import add_member, make_user, make_workspace
from tests.web.conftest import Browser
from tests.web.test_inbox_meta_webhook import notification, signature_for

X_ME = "2244994945"
PAGE = "104512345678901"
OLD_APP_SECRET = "meta-old-app-secret-0001"
NEW_APP_SECRET = "meta-new-app-secret-0002"
NEW_VERIFY = "meta-new-verify-token-0003"
NEW_CONSUMER = "x-new-consumer-secret-0004"


@pytest.fixture
def app(ctx: AppContext) -> FastAPI:
    registry = ProviderRegistry(
        {"x": XProvider, "facebook": FacebookProvider, "rss": RssProvider},
        outbound=OutboundPolicy(),
    )
    return create_app(dataclasses.replace(ctx, providers=registry))


def _channel(db: Session, ctx: AppContext, owner: User, ws: Workspace, network: str) -> Channel:
    cipher = CredentialCipher.from_settings(ctx.settings)
    if network == "x":
        config = {"client_id": "client-123"}
        creds = Credentials(
            access_token="x-user-token",
            refresh_token="x-refresh-token",
            account_id=X_ME,
            extra={"username": "brand"},
        )
        remote = X_ME
    else:
        config = {"client_id": "1234567890", "page_id": PAGE}
        creds = Credentials(
            access_token="page-token",
            account_id=PAGE,
            extra={"client_secret": OLD_APP_SECRET, "token_kind": "page"},
        )
        remote = PAGE
    channel = Channel(
        workspace_id=ws.id,
        network=network,
        name=f"Caffè Aurora on {network}",
        account_remote_id=remote,
        account_handle="caffeaurora",
        config=config,
        credentials=cipher.encrypt(creds),
        connected_by=owner.id,
    )
    db.add(channel)
    db.commit()
    return channel


@pytest.fixture
def x_channel(db: Session, ctx: AppContext, owner: User, workspace: Workspace) -> Channel:
    return _channel(db, ctx, owner, workspace, "x")


@pytest.fixture
def page_channel(db: Session, ctx: AppContext, owner: User, workspace: Workspace) -> Channel:
    return _channel(db, ctx, owner, workspace, "facebook")


def stored(db: Session, ctx: AppContext, channel: Channel) -> Credentials:
    db.expire_all()
    row = db.get(Channel, channel.id)
    assert row is not None
    return CredentialCipher.from_settings(ctx.settings).decrypt(row.credentials)


def x_crc(client: TestClient, channel: Channel, secret: str) -> bool:
    answer = client.get(f"/webhooks/x/{channel.id}", params={"crc_token": "abc123"})
    digest = hmac.new(secret.encode(), b"abc123", hashlib.sha256).digest()
    expected = {"response_token": "sha256=" + base64.b64encode(digest).decode()}
    return answer.status_code == 200 and answer.json() == expected


def x_post(client: TestClient, channel: Channel, secret: str) -> int:
    body = json.dumps({"for_user_id": X_ME}).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    headers = {
        "Content-Type": "application/json",
        "x-twitter-webhooks-signature": "sha256=" + base64.b64encode(digest).decode(),
    }
    return client.post(f"/webhooks/x/{channel.id}", content=body, headers=headers).status_code


def meta_post(client: TestClient, channel: Channel, secret: str) -> int:
    body = notification()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signature_for(body, secret),
    }
    return client.post(f"/webhooks/meta/{channel.id}", content=body, headers=headers).status_code


def test_the_page_shows_secrets_as_set_or_not_set_never_their_value(
    signed_in: Browser, workspace: Workspace, page_channel: Channel
) -> None:
    listing = signed_in.get(f"/w/{workspace.id}/channels")
    assert f'href="/w/{workspace.id}/channels/{page_channel.id}/settings"' in listing.text
    page = signed_in.get(f"/w/{workspace.id}/channels/{page_channel.id}/settings")
    assert page.status_code == 200
    html = page.text
    assert 'name="csrf_token"' in html
    assert OLD_APP_SECRET not in html and "page-token" not in html
    assert 'name="field.client_secret" type="password"' in html
    assert "Set: leave blank to keep it" in html  # the app secret
    assert "Not set." in html  # the webhook verify token
    assert 'name="field.page_id" type="text" value="104512345678901"' in html


def test_a_manager_sets_the_meta_secrets_and_the_webhook_accepts_them(
    signed_in: Browser,
    client: TestClient,
    db: Session,
    ctx: AppContext,
    workspace: Workspace,
    page_channel: Channel,
) -> None:
    url = f"/w/{workspace.id}/channels/{page_channel.id}/settings"
    assert meta_post(client, page_channel, NEW_APP_SECRET) == 403
    handshake = {"hub.mode": "subscribe", "hub.verify_token": NEW_VERIFY, "hub.challenge": "77"}
    assert client.get(f"/webhooks/meta/{page_channel.id}", params=handshake).status_code == 403
    signed_in.get(url)
    saved = signed_in.post(
        url,
        {
            "name": "Aurora Page",
            "field.client_id": "1234567890",
            "field.page_id": PAGE,
            "field.client_secret": NEW_APP_SECRET,
            "field.verify_token": NEW_VERIFY,
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    creds = stored(db, ctx, page_channel)
    assert creds.extra["client_secret"] == NEW_APP_SECRET
    assert creds.extra["verify_token"] == NEW_VERIFY
    assert creds.access_token == "page-token" and creds.extra["token_kind"] == "page"
    assert db.get(Channel, page_channel.id).name == "Aurora Page"  # type: ignore[union-attr]
    # the webhook takes the new secrets, and no longer the old one
    assert meta_post(client, page_channel, NEW_APP_SECRET) == 200
    assert meta_post(client, page_channel, OLD_APP_SECRET) == 403
    ok = client.get(f"/webhooks/meta/{page_channel.id}", params=handshake)
    assert ok.status_code == 200 and ok.text == "77"
    # a blank secret keeps it; the "clear" box removes it
    signed_in.post(url, {"name": "Aurora Page", "field.client_secret": ""})
    assert stored(db, ctx, page_channel).extra["client_secret"] == NEW_APP_SECRET
    signed_in.post(url, {"name": "Aurora Page", "clear.verify_token": "1"})
    assert "verify_token" not in stored(db, ctx, page_channel).extra
    # the audit log records the rename, never a secret
    entries = db.scalars(
        select(AuditEntry).where(
            AuditEntry.entity_type == "channels", AuditEntry.entity_id == str(page_channel.id)
        )
    ).all()
    assert any("Aurora Page" in json.dumps(e.after) for e in entries)
    for e in entries:
        dumped = json.dumps([e.before, e.after])
        assert NEW_APP_SECRET not in dumped and NEW_VERIFY not in dumped
        assert OLD_APP_SECRET not in dumped


def test_a_required_field_cannot_be_cleared_and_nothing_is_lost(
    signed_in: Browser, db: Session, ctx: AppContext, workspace: Workspace, page_channel: Channel
) -> None:
    url = f"/w/{workspace.id}/channels/{page_channel.id}/settings"
    signed_in.get(url)
    refused = signed_in.post(
        url, {"name": "New name", "field.client_id": "", "field.verify_token": NEW_VERIFY}
    )
    assert refused.status_code == 422
    assert "cannot be cleared" in refused.text
    assert NEW_VERIFY not in refused.text
    db.expire_all()
    row = db.get(Channel, page_channel.id)
    assert row is not None and row.name == page_channel.name
    assert row.config["client_id"] == "1234567890"
    assert "verify_token" not in stored(db, ctx, page_channel).extra


def test_the_api_sets_the_x_consumer_secret_keeps_the_refresh_token_and_never_echoes_it(
    client: TestClient,
    db: Session,
    ctx: AppContext,
    owner: User,
    workspace: Workspace,
    x_channel: Channel,
) -> None:
    assert not x_crc(client, x_channel, NEW_CONSUMER)
    auth = session_auth(db, owner)
    db.commit()
    url = f"/api/v1/workspaces/{workspace.id}/channels/{x_channel.id}"
    client.cookies.clear()
    r = client.patch(
        url,
        json={"name": "Brand on X", "values": {"consumer_secret": NEW_CONSUMER}},
        headers=auth.headers,
    )
    assert r.status_code == 200, r.text
    assert NEW_CONSUMER not in r.text and "x-user-token" not in r.text
    assert "x-refresh-token" not in r.text
    body = r.json()
    assert body["channel"]["name"] == "Brand on X"
    fields = {f["name"]: f for f in body["fields"]}
    assert fields["consumer_secret"] == {**fields["consumer_secret"], "is_set": True, "value": None}
    assert fields["client_secret"]["is_set"] is False
    assert fields["client_id"]["value"] == "client-123"
    creds = stored(db, ctx, x_channel)
    assert creds.extra["consumer_secret"] == NEW_CONSUMER
    assert creds.refresh_token == "x-refresh-token" and creds.access_token == "x-user-token"
    assert creds.extra["username"] == "brand"
    assert x_crc(client, x_channel, NEW_CONSUMER)
    assert x_post(client, x_channel, NEW_CONSUMER) == 200
    assert x_post(client, x_channel, "some-other-secret") == 403
    # null clears; an unknown field, or a token, is refused with nothing changed
    client.cookies.clear()
    unknown = client.patch(
        url,
        json={"values": {"access_token": "stolen", "consumer_secret": None}},
        headers=auth.headers,
    )
    assert unknown.status_code == 422 and "access_token" in unknown.text
    assert stored(db, ctx, x_channel).extra["consumer_secret"] == NEW_CONSUMER
    client.cookies.clear()
    cleared = client.patch(url, json={"values": {"consumer_secret": None}}, headers=auth.headers)
    assert cleared.status_code == 200
    assert "consumer_secret" not in stored(db, ctx, x_channel).extra
    assert stored(db, ctx, x_channel).refresh_token == "x-refresh-token"


def test_a_viewer_cannot_and_another_workspace_gets_404(
    client: TestClient,
    db: Session,
    ctx: AppContext,
    owner: User,
    workspace: Workspace,
    page_channel: Channel,
    sign_in_as: Callable[[User], Browser],
) -> None:
    viewer = add_member(db, workspace, owner, Role.viewer)
    stranger = make_user(db)
    elsewhere = make_workspace(db, stranger)
    db.commit()
    payload = {"values": {"client_secret": "hijacked-secret"}}
    api_url = f"/api/v1/workspaces/{workspace.id}/channels/{page_channel.id}"
    client.cookies.clear()
    as_viewer = client.patch(api_url, json=payload, headers=session_auth(db, viewer).headers)
    assert as_viewer.status_code == 403
    client.cookies.clear()
    foreign = client.patch(
        f"/api/v1/workspaces/{elsewhere.id}/channels/{page_channel.id}",
        json=payload,
        headers=session_auth(db, stranger).headers,
    )
    assert foreign.status_code == 404
    browser = sign_in_as(viewer)
    page_url = f"/w/{workspace.id}/channels/{page_channel.id}/settings"
    assert browser.get(page_url).status_code == 403
    assert (
        browser.post(page_url, {"name": "x", "field.client_secret": "hijacked-secret"}).status_code
        == 403
    )
    listing = browser.get(f"/w/{workspace.id}/channels")
    assert "/settings" not in listing.text
    other = sign_in_as(stranger)
    assert other.get(f"/w/{elsewhere.id}/channels/{page_channel.id}/settings").status_code == 404
    assert stored(db, ctx, page_channel).extra["client_secret"] == OLD_APP_SECRET


def test_the_web_form_needs_its_csrf_token(
    signed_in: Browser, db: Session, ctx: AppContext, workspace: Workspace, page_channel: Channel
) -> None:
    r = signed_in.client.post(
        f"/w/{workspace.id}/channels/{page_channel.id}/settings",
        data={"name": "x", "field.client_secret": "no-csrf-secret"},
    )
    assert r.status_code in (400, 403)
    assert stored(db, ctx, page_channel).extra["client_secret"] == OLD_APP_SECRET


def test_an_internal_address_in_the_settings_is_refused(
    client: TestClient,
    db: Session,
    ctx: AppContext,
    owner: User,
    workspace: Workspace,
    page_channel: Channel,
) -> None:
    """Editing goes through the same outbound policy as connecting (here: an address in a
    configuration field; the registry of this test refuses internal addresses)."""
    client.cookies.clear()
    r = client.patch(
        f"/api/v1/workspaces/{workspace.id}/channels/{page_channel.id}",
        json={"values": {"page_id": "http://169.254.169.254/latest/meta-data/"}},
        headers=session_auth(db, owner).headers,
    )
    assert r.status_code == 422 and "internal address" in r.text
    db.expire_all()
    assert db.get(Channel, page_channel.id).config["page_id"] == PAGE  # type: ignore[union-attr]


def test_connecting_a_feed_on_an_internal_address_says_why_on_the_page(
    signed_in: Browser, db: Session, workspace: Workspace
) -> None:
    signed_in.get(f"/w/{workspace.id}/channels?network=rss")
    r = signed_in.post(
        f"/w/{workspace.id}/channels",
        {"network": "rss", "config.url": "http://169.254.169.254/latest/meta-data/"},
    )
    assert r.status_code == 422
    assert "cannot use this address:" in r.text
    assert "169.254.169.254 is an internal address" in r.text
    assert db.scalars(select(Channel).where(Channel.network == "rss")).first() is None
