"""Connecting an X account through the OAuth 2.0 round trip, end to end: the Channels page
sends the browser to the consent page with a PKCE challenge, the network sends it back to the
callback, Dialogo exchanges the code with the verifier against a real local HTTP server that
plays X's token and users/me endpoints, and stores the channel; the flow is used once, by the
person who started it, and a refusal connects nothing."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, OAuthFlow
from dialogo.core.context import AppContext
from dialogo.providers.base import Credentials
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.x.provider import XProvider
from dialogo.server import create_app
from tests.factories import add_member
from tests.web.conftest import Browser


class FakeX:
    """X's token endpoint and users/me on 127.0.0.1, recording what it was sent."""

    def __init__(self) -> None:
        self.token_forms: list[dict[str, str]] = []
        self.bearers: list[str] = []
        self.refresh_answer: dict[str, Any] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if self.path != "/2/oauth2/token":
                    return self._answer(404, {"title": "Not Found"})
                fake.token_forms.append(form)
                if form.get("code") == "bad-code":
                    return self._answer(
                        400,
                        {
                            "error": "invalid_request",
                            "error_description": "Value passed for the code was invalid.",
                        },
                    )
                return self._answer(
                    200,
                    {
                        "token_type": "bearer",
                        "expires_in": 7200,
                        "access_token": f"access-{len(fake.token_forms)}",
                        "refresh_token": f"refresh-{len(fake.token_forms)}",
                        "scope": "tweet.read tweet.write users.read offline.access",
                    },
                )

            def do_GET(self) -> None:
                fake.bearers.append(self.headers.get("Authorization", ""))
                if self.path.startswith("/2/users/me"):
                    return self._answer(
                        200,
                        {
                            "data": {
                                "id": "2244994945",
                                "name": "Caffè Aurora",
                                "username": "caffeaurora",
                                "public_metrics": {"followers_count": 5120},
                            }
                        },
                    )
                return self._answer(404, {"title": "Not Found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    fake = FakeX()
    yield fake
    fake.close()


@pytest.fixture
def x_client(ctx: AppContext, fake_x: FakeX) -> Iterator[TestClient]:
    class LocalX(XProvider):
        """X, with its API base pointed at the local server (as a self-hosted proxy would)."""

        def __init__(self, credentials: Credentials, **kwargs: Any) -> None:
            config = {**(kwargs.pop("config", None) or {}), "base_url": fake_x.url}
            super().__init__(credentials, config=config, **kwargs)

    registry = ProviderRegistry({"x": LocalX})
    app = create_app(dataclasses.replace(ctx, providers=registry))
    with TestClient(app, follow_redirects=False) as client:
        yield client


def start(browser: Browser, workspace: Workspace) -> dict[str, str]:
    r = browser.post(
        f"/w/{workspace.id}/channels",
        {"network": "x", "config.client_id": "client-123", "name": "Aurora su X"},
    )
    assert r.status_code == 303, r.text
    url = urllib.parse.urlsplit(r.headers["location"])
    assert (url.scheme, url.netloc, url.path) == ("https", "x.com", "/i/oauth2/authorize")
    return dict(urllib.parse.parse_qsl(url.query))


def test_connect_x_through_the_consent_page(
    x_client: TestClient,
    fake_x: FakeX,
    owner: User,
    workspace: Workspace,
    db: Session,
    ctx: AppContext,
) -> None:
    browser = Browser(x_client)
    browser.sign_in(owner.email)
    page = browser.get(f"/w/{workspace.id}/channels?network=x").text
    assert "Continue to X" in page and 'name="config.client_id"' in page

    query = start(browser, workspace)
    assert query["client_id"] == "client-123"
    assert query["redirect_uri"].endswith("/channels/oauth/callback")
    assert query["code_challenge_method"] == "S256"
    flow = db.scalar(select(OAuthFlow).where(OAuthFlow.state == query["state"]))
    assert flow is not None and flow.workspace_id == workspace.id
    assert "code_verifier" not in json.dumps(flow.config)  # the verifier is encrypted

    r = browser.get(f"/channels/oauth/callback?state={query['state']}&code=good-code")
    assert r.status_code == 303 and r.headers["location"] == f"/w/{workspace.id}/channels"
    # The code was exchanged with the verifier whose S256 digest the consent page was sent.
    form = fake_x.token_forms[0]
    assert (form["grant_type"], form["code"], form["client_id"]) == (
        "authorization_code",
        "good-code",
        "client-123",
    )
    digest = hashlib.sha256(form["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"]
    assert form["redirect_uri"] == query["redirect_uri"]
    assert fake_x.bearers[-1] == "Bearer access-1"

    db.expire_all()
    channel = db.scalar(select(Channel).where(Channel.workspace_id == workspace.id))
    assert channel is not None
    assert (channel.network, channel.name, channel.account_handle) == (
        "x",
        "Aurora su X",
        "caffeaurora",
    )
    assert channel.token_expires_at is not None
    stored = CredentialCipher.from_settings(ctx.settings).decrypt(channel.credentials)
    assert (stored.access_token, stored.refresh_token) == ("access-1", "refresh-1")
    assert stored.account_id == "2244994945" and stored.extra["username"] == "caffeaurora"
    assert "code_verifier" not in stored.extra
    assert "is connected" in browser.get(f"/w/{workspace.id}/channels").text

    # The same callback again (a reload, a replay) connects nothing more.
    again = browser.get(f"/channels/oauth/callback?state={query['state']}&code=good-code")
    assert again.status_code == 422 and "expired or was already used" in again.text
    assert len(fake_x.token_forms) == 1


def test_a_refusal_or_a_bad_code_connects_nothing(
    x_client: TestClient, fake_x: FakeX, owner: User, workspace: Workspace, db: Session
) -> None:
    browser = Browser(x_client)
    browser.sign_in(owner.email)
    denied = start(browser, workspace)
    r = browser.get(
        f"/channels/oauth/callback?state={denied['state']}&error=access_denied"
        "&error_description=The+user+denied"
    )
    assert r.status_code == 422 and "Access was not granted" in r.text
    assert fake_x.token_forms == []

    bad = start(browser, workspace)
    r = browser.get(f"/channels/oauth/callback?state={bad['state']}&code=bad-code")
    assert r.status_code == 422 and "refused these credentials" in r.text
    db.expire_all()
    assert db.scalar(select(Channel).where(Channel.workspace_id == workspace.id)) is None

    r = browser.get("/channels/oauth/callback?state=made-up&code=x")
    assert r.status_code == 303  # no workspace to show: home, with the message
    while r.status_code == 303:
        r = browser.get(r.headers["location"])
    assert "expired or was already used" in r.text


def test_only_the_person_who_started_it_can_finish_it(
    x_client: TestClient, fake_x: FakeX, owner: User, workspace: Workspace, db: Session
) -> None:
    owner_browser = Browser(x_client)
    owner_browser.sign_in(owner.email)
    query = start(owner_browser, workspace)

    other = add_member(db, workspace, owner, Role.admin)
    db.commit()
    with TestClient(x_client.app, follow_redirects=False) as second:
        intruder = Browser(second)
        intruder.sign_in(other.email)
        r = intruder.get(f"/channels/oauth/callback?state={query['state']}&code=good-code")
    assert r.status_code == 422 and "expired or was already used" in r.text
    assert fake_x.token_forms == []


def test_refresh_stores_the_rotated_refresh_token(
    ctx: AppContext, db: Session, owner: User, workspace: Workspace
) -> None:
    """X rotates refresh tokens: the one it returns replaces the old, which stops working."""
    answers = iter(
        [
            {"access_token": "a2", "refresh_token": "r2", "expires_in": 7200},
            {"access_token": "a3", "expires_in": 7200},  # no new one: keep r2
        ]
    )
    sent: list[dict[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(dict(urllib.parse.parse_qsl(request.content.decode())))
        return httpx.Response(200, json=next(answers))

    cipher = CredentialCipher.from_settings(ctx.settings)
    channel = Channel(
        workspace_id=workspace.id,
        network="x",
        name="X",
        account_remote_id="1",
        account_handle="brand",
        config={"client_id": "client-123"},
        credentials=cipher.encrypt(Credentials(access_token="a1", refresh_token="r1")),
    )
    db.add(channel)
    db.flush()
    registry = ProviderRegistry({"x": XProvider})
    with httpx.Client(transport=httpx.MockTransport(handle)) as http:
        assert channels.refresh_channel(db, channel, registry=registry, cipher=cipher, http=http)
        assert channels.refresh_channel(db, channel, registry=registry, cipher=cipher, http=http)
    assert [s["refresh_token"] for s in sent] == ["r1", "r2"]
    stored = cipher.decrypt(channel.credentials)
    assert (stored.access_token, stored.refresh_token) == ("a3", "r2")
    assert channel.token_expires_at is not None
