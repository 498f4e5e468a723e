"""The Channels page and the notifications on the workspace home: connect with credentials the
network checks, health with reasons, check now, re-authorise, disconnect, dismiss."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.core.context import AppContext
from dialogo.notifications import service as notifications
from dialogo.notifications.models import Notification
from dialogo.providers.base import AuthKind, Provider
from dialogo.providers.errors import InsufficientScopes, TransientError
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeAccount, FakeNetwork
from dialogo.server import create_app
from tests.factories import add_member, make_user, make_workspace
from tests.web.conftest import Browser

SECRET_FIELD = "credential.access_token"


@pytest.fixture
def network() -> FakeNetwork:
    return FakeNetwork("fakenet")


@pytest.fixture
def app(ctx: AppContext, network: FakeNetwork) -> FastAPI:
    registry = ProviderRegistry({network.name: network.provider_class()})
    return create_app(dataclasses.replace(ctx, providers=registry))


def channels_in(db: Session, workspace: Workspace) -> list[Channel]:
    db.expire_all()
    return list(db.scalars(select(Channel).where(Channel.workspace_id == workspace.id)))


def open_notes(db: Session, workspace: Workspace) -> list[Notification]:
    db.expire_all()
    return list(
        db.scalars(
            select(Notification).where(
                Notification.workspace_id == workspace.id, Notification.resolved_at.is_(None)
            )
        )
    )


def connect(browser: Browser, workspace: Workspace, account: FakeAccount, **extra: str):  # type: ignore[no-untyped-def]
    return browser.post(
        f"/w/{workspace.id}/channels",
        {"network": "fakenet", SECRET_FIELD: account.access_token, **extra},
    )


def test_owner_sees_the_connect_form(signed_in: Browser, workspace: Workspace) -> None:
    r = signed_in.get(f"/w/{workspace.id}/channels")
    assert r.status_code == 200
    html = r.text
    assert "<h1>Channels</h1>" in html
    assert f'<a href="/w/{workspace.id}/channels" aria-current="page">Channels' in html
    assert "No account is connected to this workspace yet." in html
    assert 'id="connect">Connect an account</h2>' in html
    # The only installed network is chosen already: its access token field is a secret.
    assert 'name="network" value="fakenet"' in html
    secret = re.search(r'<input id="channel-credential-access-token"[^>]*>', html)
    assert secret, html
    assert 'type="password"' in secret.group(0) and 'autocomplete="off"' in secret.group(0)
    assert "Create an access token for Dialogo in the settings of your Fake network" in html
    assert 'name="csrf_token"' in html and 'hx-post="/w/' in html


def test_connect_an_account_and_see_it_working(
    db: Session, signed_in: Browser, workspace: Workspace, network: FakeNetwork
) -> None:
    account = network.add_account("caffe_aurora")
    r = connect(signed_in, workspace, account, name="Caffè Aurora social")
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/w/{workspace.id}/channels"
    page = signed_in.get(r.headers["location"]).text
    assert "Caffè Aurora social (Fake network fakenet) is connected." in page
    assert "caffe_aurora" in page and "Working" in page and "Checked just now" in page
    assert "Check now" in page and "Disconnect" in page
    assert account.access_token not in page
    [channel] = channels_in(db, workspace)
    assert channel.status == ChannelStatus.ok and channel.account_handle == "caffe_aurora"
    assert account.access_token not in channel.credentials  # encrypted


def test_connect_with_htmx_answers_the_section(
    db: Session, signed_in: Browser, workspace: Workspace, network: FakeNetwork
) -> None:
    account = network.add_account("brand")
    r = signed_in.htmx(
        f"/w/{workspace.id}/channels", {"network": "fakenet", SECRET_FIELD: account.access_token}
    )
    assert r.status_code == 200
    assert '<section id="channels"' in r.text and "<html" not in r.text
    assert "brand (Fake network fakenet) is connected." in r.text
    # the navigation's count comes along, out of band
    assert 'id="nav-badge-channels" class="nav-badge" hx-swap-oob="true"' in r.text
    assert len(channels_in(db, workspace)) == 1


def test_wrong_credentials_show_the_network_refusal_and_store_nothing(
    db: Session, signed_in: Browser, workspace: Workspace
) -> None:
    r = signed_in.post(
        f"/w/{workspace.id}/channels",
        {"network": "fakenet", SECRET_FIELD: "not-a-real-token", "name": "Kept name"},
    )
    assert r.status_code == 422
    assert "Fake network fakenet refused these credentials:" in r.text
    assert "invalid or revoked access token" in r.text
    assert "not-a-real-token" not in r.text  # a secret is never sent back
    assert 'value="Kept name"' in r.text  # what is not secret is kept
    assert channels_in(db, workspace) == []


def test_missing_fields_are_flagged(db: Session, signed_in: Browser, workspace: Workspace) -> None:
    r = signed_in.post(f"/w/{workspace.id}/channels", {"network": "fakenet"})
    assert r.status_code == 422
    assert 'id="channel-credential-access-token-error"' in r.text
    assert "This field is required." in r.text
    assert 'aria-invalid="true"' in r.text and "autofocus" in r.text
    r = signed_in.post(f"/w/{workspace.id}/channels", {"network": "myspace"})
    assert r.status_code == 422 and "Choose one of the networks listed." in r.text
    assert channels_in(db, workspace) == []


def test_unreachable_network_asks_to_try_again(
    db: Session, signed_in: Browser, workspace: Workspace, network: FakeNetwork
) -> None:
    account = network.add_account("brand")
    network.fail_next(TransientError("connection refused"))
    r = connect(signed_in, workspace, account)
    assert r.status_code == 502
    # the kind of provider error in words, the network's own text as a detail
    assert (
        "Could not reach Fake network fakenet (the network had a temporary problem — "
        "details: connection refused)." in r.text
    )
    assert "try again in a few minutes" in r.text
    assert account.access_token not in r.text
    assert channels_in(db, workspace) == []


def test_revoked_access_is_flagged_notified_and_reauthorised(
    db: Session, signed_in: Browser, workspace: Workspace, network: FakeNetwork
) -> None:
    account = network.add_account("brand")
    assert connect(signed_in, workspace, account).status_code == 303
    [channel] = channels_in(db, workspace)
    network.revoke(account.remote_id)

    r = signed_in.post(f"/w/{workspace.id}/channels/{channel.id}/check")
    assert r.status_code == 303
    page = signed_in.get(f"/w/{workspace.id}/channels").text
    assert "brand (Fake network fakenet) needs to be authorised again:" in page  # the message
    assert "Needs re-authorisation" in page and "invalid or revoked access token" in page
    assert 'class="badge badge-warn"' in page
    assert f"/w/{workspace.id}/channels?network=fakenet&amp;channel={channel.id}#connect" in page
    assert "(1 channel needs attention)" in page  # the count on the navigation item

    home = signed_in.get(f"/w/{workspace.id}").text
    assert "Needs attention" in home
    assert "brand (Fake network fakenet) needs to be authorised again" in home
    assert f'<a href="/w/{workspace.id}/channels" role="button" class="outline">' in home
    assert "Dismiss" in home and "(1 channel needs attention)" in home
    [note] = open_notes(db, workspace)

    # Authorise again: the form starts without secrets; the same account is updated.
    form = signed_in.get(f"/w/{workspace.id}/channels?network=fakenet&channel={channel.id}")
    assert "Authorise brand again" in form.text
    assert f'name="reauth" value="{channel.id}"' in form.text
    r = connect(signed_in, workspace, account, reauth=str(channel.id))
    assert r.status_code == 303
    page = signed_in.get(r.headers["location"]).text
    assert "is authorised again and working." in page
    [again] = channels_in(db, workspace)
    assert again.id == channel.id and again.status == ChannelStatus.ok
    assert open_notes(db, workspace) == []
    assert note.id  # the notification was resolved by the service
    assert "Needs attention" not in signed_in.get(f"/w/{workspace.id}").text


def test_dismiss_resolves_the_notification(
    db: Session, signed_in: Browser, workspace: Workspace, network: FakeNetwork
) -> None:
    account = network.add_account("brand")
    connect(signed_in, workspace, account)
    [channel] = channels_in(db, workspace)
    network.revoke(account.remote_id)
    signed_in.htmx(f"/w/{workspace.id}/channels/{channel.id}/check")
    [note] = open_notes(db, workspace)

    r = signed_in.htmx(f"/w/{workspace.id}/notifications/{note.id}/dismiss")
    assert r.status_code == 200
    assert '<section id="notifications"' in r.text and "Notification dismissed." in r.text
    assert "Needs attention" not in r.text
    assert 'id="nav-badge-channels" class="nav-badge" hx-swap-oob="true"></span>' in r.text
    assert open_notes(db, workspace) == []

    # Without JavaScript: a redirect home with the message; a second dismiss changes nothing.
    r = signed_in.post(f"/w/{workspace.id}/notifications/{note.id}/dismiss")
    assert r.status_code == 303 and r.headers["location"] == f"/w/{workspace.id}"
    home = signed_in.get(r.headers["location"]).text
    assert "Notification dismissed." in home and "Needs attention" not in home
    # The channel itself still says what is wrong.
    assert "Needs re-authorisation" in signed_in.get(f"/w/{workspace.id}/channels").text


def test_check_now_on_a_working_channel(
    db: Session, signed_in: Browser, workspace: Workspace, network: FakeNetwork
) -> None:
    account = network.add_account("brand")
    connect(signed_in, workspace, account)
    [channel] = channels_in(db, workspace)
    r = signed_in.htmx(f"/w/{workspace.id}/channels/{channel.id}/check")
    assert r.status_code == 200 and "brand (Fake network fakenet) is working." in r.text
    network.fail_next(TransientError("timed out"))
    r = signed_in.htmx(f"/w/{workspace.id}/channels/{channel.id}/check")
    assert r.status_code == 502 and "details: timed out)" in r.text
    assert "Could not reach Fake network fakenet (the network had a temporary problem" in r.text
    assert channels_in(db, workspace)[0].status == ChannelStatus.ok  # not flagged


def test_disconnect_removes_the_channel(
    db: Session, signed_in: Browser, workspace: Workspace, network: FakeNetwork
) -> None:
    account = network.add_account("brand")
    connect(signed_in, workspace, account)
    [channel] = channels_in(db, workspace)
    channel_id = channel.id
    page = signed_in.get(f"/w/{workspace.id}/channels").text
    assert 'hx-confirm="Disconnect brand (Fake network fakenet)?' in page
    r = signed_in.post(f"/w/{workspace.id}/channels/{channel_id}/disconnect")
    assert r.status_code == 303
    page = signed_in.get(r.headers["location"]).text
    assert "brand (Fake network fakenet) was disconnected; its credentials were deleted." in page
    assert "No account is connected to this workspace yet." in page
    assert channels_in(db, workspace) == []
    r = signed_in.post(f"/w/{workspace.id}/channels/{channel_id}/disconnect")
    assert r.status_code == 404


def test_other_notifications_are_shown_as_written_with_safe_links(
    db: Session, signed_in: Browser, workspace: Workspace
) -> None:
    notifications.notify(
        db, workspace.id, kind="post_failed", title="A post failed", link="https://evil.example/"
    )
    notifications.notify(
        db, workspace.id, kind="report_ready", title="Report ready", link=f"/w/{workspace.id}"
    )
    db.commit()
    home = signed_in.get(f"/w/{workspace.id}").text
    assert "A post failed" in home and "Report ready" in home
    assert "evil.example" not in home
    assert f'<a href="/w/{workspace.id}" role="button" class="outline">Open</a>' in home
    # not about channels: no count on the navigation
    assert 'class="badge badge-bad" aria-hidden="true"' not in home


def test_choosing_a_network_with_htmx(signed_in: Browser, workspace: Workspace) -> None:
    r = signed_in.client.get(
        f"/w/{workspace.id}/channels?network=fakenet", headers={"HX-Request": "true"}
    )
    assert r.status_code == 200 and "<html" not in r.text
    assert re.search(r'<input id="channel-credential-access-token"[^>]* autofocus', r.text)


def test_viewer_sees_health_but_no_buttons(
    db: Session,
    sign_in_as,  # type: ignore[no-untyped-def]
    signed_in: Browser,
    owner: User,
    workspace: Workspace,
    network: FakeNetwork,
) -> None:
    account = network.add_account("brand")
    connect(signed_in, workspace, account)
    viewer = add_member(db, workspace, owner, Role.viewer)
    db.commit()
    browser = sign_in_as(viewer)
    r = browser.get(f"/w/{workspace.id}/channels")
    assert r.status_code == 200
    assert "brand" in r.text and "Working" in r.text
    assert "Check now" not in r.text and "Disconnect" not in r.text
    assert "Connect an account" not in r.text and 'type="password"' not in r.text
    assert "Owners and administrators connect, check and disconnect accounts." in r.text
    [channel] = channels_in(db, workspace)
    for path in ("", f"/{channel.id}/check", f"/{channel.id}/disconnect"):
        r = browser.post(f"/w/{workspace.id}/channels{path}", {"network": "fakenet"})
        assert r.status_code == 403, path
    assert len(channels_in(db, workspace)) == 1


def test_csrf_is_required(
    db: Session, signed_in: Browser, workspace: Workspace, network: FakeNetwork
) -> None:
    account = network.add_account("brand")
    r = signed_in.client.post(
        f"/w/{workspace.id}/channels",
        data={"network": "fakenet", SECRET_FIELD: account.access_token},
    )
    assert r.status_code == 403
    assert "This form expired or did not come from Dialogo." in r.text
    assert channels_in(db, workspace) == []
    connect(signed_in, workspace, account)
    [channel] = channels_in(db, workspace)
    r = signed_in.client.post(
        f"/w/{workspace.id}/channels/{channel.id}/disconnect", data={"csrf_token": "forged"}
    )
    assert r.status_code == 403
    assert len(channels_in(db, workspace)) == 1


def test_non_member_gets_404(db: Session, signed_in: Browser, network: FakeNetwork) -> None:
    stranger = make_user(db)
    other = make_workspace(db, stranger, "Someone Else")
    db.commit()
    r = signed_in.get(f"/w/{other.id}/channels")
    assert r.status_code == 404 and "Someone Else" not in r.text
    account = network.add_account("brand")
    r = signed_in.post(
        f"/w/{other.id}/channels", {"network": "fakenet", SECRET_FIELD: account.access_token}
    )
    assert r.status_code == 404
    assert signed_in.post(f"/w/{other.id}/notifications/1/dismiss").status_code == 404
    assert channels_in(db, other) == []


def test_italian(
    db: Session, signed_in: Browser, owner: User, workspace: Workspace, network: FakeNetwork
) -> None:
    account = network.add_account("brand")
    connect(signed_in, workspace, account)
    [channel] = channels_in(db, workspace)
    network.revoke(account.remote_id)
    signed_in.post(f"/w/{workspace.id}/channels/{channel.id}/check")
    signed_in.post("/language", {"language": "it", "next": "/"})
    page = signed_in.get(f"/w/{workspace.id}/channels").text
    assert '<html lang="it"' in page
    for word in ("<h1>Canali</h1>", "Account collegati", "Da autorizzare di nuovo"):
        assert word in page, word
    for word in ("Controlla ora", "Scollega", "Autorizza di nuovo", "Collega un account"):
        assert word in page, word
    assert "Token di accesso" in page
    assert "Needs re-authorisation" not in page and "Check now" not in page
    home = signed_in.get(f"/w/{workspace.id}").text
    assert "Il canale brand (Fake network fakenet) va autorizzato di nuovo" in home
    assert "Richiede attenzione" in home and "Ignora" in home
    r = signed_in.post(
        f"/w/{workspace.id}/channels", {"network": "fakenet", SECRET_FIELD: "sbagliato"}
    )
    # the network's own text stays as it said it (the sentence already says what happened)
    assert (
        "Fake network fakenet ha rifiutato queste credenziali: "
        "fakenet: invalid or revoked access token" in r.text
    )
    # Another kind of provider error is worded in Italian, the network's text after it.
    network.fail_next(InsufficientScopes("missing scope: write"))
    r = connect(signed_in, workspace, network.add_account("scoped"))
    assert r.status_code == 422
    assert (
        "Fake network fakenet ha rifiutato queste credenziali: non è stata concessa "
        "un&#39;autorizzazione necessaria — dettagli: missing scope: write" in r.text
    )
    network.fail_next(TransientError("connection refused"))
    r = connect(signed_in, workspace, network.add_account("other"))
    assert r.status_code == 502
    assert (
        "Impossibile raggiungere Fake network fakenet (la rete ha avuto un problema "
        "temporaneo — dettagli: connection refused)." in r.text
    )


# --- which networks and which fields ----------------------------------------------------------


@pytest.fixture
def bundled_client(ctx: AppContext) -> Iterator[TestClient]:
    from dialogo.providers.bluesky.provider import BlueskyProvider
    from dialogo.providers.matrix.provider import MatrixProvider

    oauth = FakeNetwork("oauthnet").provider_class()
    caps = dataclasses.replace(oauth.capabilities, display_name="OAuthNet", auth=AuthKind.oauth2)
    oauth_cls: type[Provider] = type("OAuthProvider", (oauth,), {"capabilities": caps})
    registry = ProviderRegistry(
        {"bluesky": BlueskyProvider, "matrix": MatrixProvider, "oauthnet": oauth_cls}
    )
    app = create_app(dataclasses.replace(ctx, providers=registry))
    with TestClient(app, follow_redirects=False) as client:
        yield client


def test_each_network_asks_for_what_it_needs(
    bundled_client: TestClient, owner: User, workspace: Workspace
) -> None:
    browser = Browser(bundled_client)
    browser.sign_in(owner.email)
    page = browser.get(f"/w/{workspace.id}/channels").text
    assert "Choose the network of the account to connect." in page  # several: none chosen
    for name in ("Bluesky", "Matrix", "OAuthNet"):
        assert f">{name}</a>" in page
    assert 'type="password"' not in page

    bluesky = browser.get(f"/w/{workspace.id}/channels?network=bluesky").text
    assert 'aria-current="true"' in bluesky
    assert 'name="credential.account_id"' in bluesky
    assert re.search(r'name="extra.app_password" type="password"[^>]*autocomplete="off"', bluesky)
    assert "Create an app password in Bluesky" in bluesky
    assert "Server (optional)" in bluesky

    matrix = browser.get(f"/w/{workspace.id}/channels?network=matrix").text
    assert 'name="config.homeserver" type="text"' in matrix
    assert re.search(r'name="credential.access_token" type="password"', matrix)
    assert "Room ID (optional)" in matrix

    # An OAuth network asks for the app's client id; the account is granted on its own page
    # (tests/web/test_channels_oauth.py follows the whole round trip).
    oauth = browser.get(f"/w/{workspace.id}/channels?network=oauthnet").text
    assert 'name="config.client_id" type="text"' in oauth
    assert re.search(r'name="extra.client_secret" type="password"', oauth)
    assert "Continue to OAuthNet" in oauth
    assert "/channels/oauth/callback" in oauth
    r = browser.post(f"/w/{workspace.id}/channels", {"network": "oauthnet"})
    assert r.status_code == 422 and "This field is required." in r.text
    # This fake provider has no consent page: refused clearly, nothing stored.
    r = browser.post(
        f"/w/{workspace.id}/channels", {"network": "oauthnet", "config.client_id": "app"}
    )
    assert r.status_code == 422 and "offers no consent page" in r.text


def test_no_network_installed(ctx: AppContext, owner: User, workspace: Workspace) -> None:
    app = create_app(dataclasses.replace(ctx, providers=ProviderRegistry()))
    with TestClient(app, follow_redirects=False) as client:
        browser = Browser(client)
        browser.sign_in(owner.email)
        page = browser.get(f"/w/{workspace.id}/channels").text
    assert "No network is installed on this server yet." in page
    assert '<form method="post" action="/w/' not in page.split('id="connect"')[1]


def test_a_channel_whose_network_is_gone_is_named_by_its_code(
    ctx: AppContext, owner: User, signed_in: Browser, workspace: Workspace, network: FakeNetwork
) -> None:
    """The page names a network by its provider's display name, and by its code once no
    provider for it is installed (``Viewer.network_name``), rather than failing."""
    assert connect(signed_in, workspace, network.add_account("aurora")).status_code == 303
    assert "<td>Fake network fakenet</td>" in signed_in.get(f"/w/{workspace.id}/channels").text
    app = create_app(dataclasses.replace(ctx, providers=ProviderRegistry()))
    with TestClient(app, follow_redirects=False) as client:
        browser = Browser(client)
        browser.sign_in(owner.email)
        r = browser.get(f"/w/{workspace.id}/channels")
    assert r.status_code == 200
    assert "<td>fakenet</td>" in r.text and "Fake network" not in r.text


def test_bundled_providers_fields_are_in_the_catalogue() -> None:
    """A provider's field texts are translated only if ``messages.PROVIDER_FIELD_TEXTS`` lists
    them (and test_i18n checks that everything listed there has an Italian translation)."""
    from dialogo.providers.bluesky.provider import BlueskyProvider
    from dialogo.providers.matrix.provider import MatrixProvider
    from dialogo.web import messages, templating

    italian = templating.tr("it")
    for provider in (BlueskyProvider, MatrixProvider):
        for field in provider.connect_fields:
            for text in (field.label, field.help):
                assert text in messages.PROVIDER_FIELD_TEXTS, text
    assert italian.gettext("Homeserver URL") == "Indirizzo dell'homeserver"
