"""Fixtures for the web pages: an app on the test transaction and a signed-in browser-like
client (cookies kept, redirects not followed unless asked)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.core.context import AppContext
from dialogo.server import create_app
from tests.factories import PASSWORD, make_user, make_workspace

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
LOGIN_FIELD = re.compile(r'name="login_token" value="([^"]+)"')


class Browser:
    """A TestClient with the helpers a person clicking through the pages needs."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        response = self.client.get(url, **kwargs)
        match = CSRF_FIELD.search(response.text)
        if match:
            self.csrf = match.group(1)
        return response

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        """A form submission with the session's CSRF token (as a browser form sends it)."""
        if not self.csrf:
            self.get("/profile")
        return self.client.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)

    def htmx(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        """An htmx request: the token in the X-CSRF-Token header, as hx-headers sends it."""
        if not self.csrf:
            self.get("/profile")
        headers = {"HX-Request": "true", "X-CSRF-Token": self.csrf}
        return self.client.post(url, data=data or {}, headers=headers, **kwargs)

    def sign_in(self, email: str, password: str = PASSWORD, next_url: str = "/") -> httpx.Response:
        page = self.client.get("/login")
        token = LOGIN_FIELD.search(page.text)
        assert token, page.text
        response = self.client.post(
            "/login",
            data={
                "email": email,
                "password": password,
                "login_token": token.group(1),
                "next": next_url,
            },
            follow_redirects=False,
        )
        self.csrf = ""
        return response


@pytest.fixture
def app(ctx: AppContext) -> FastAPI:
    return create_app(ctx)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def browser(client: TestClient) -> Browser:
    return Browser(client)


@pytest.fixture
def owner(db: Session) -> User:
    user = make_user(db)
    db.commit()
    return user


@pytest.fixture
def workspace(db: Session, owner: User) -> Workspace:
    ws = make_workspace(db, owner, "Caffè Aurora")
    db.commit()
    return ws


@pytest.fixture
def signed_in(browser: Browser, owner: User, workspace: Workspace) -> Browser:
    response = browser.sign_in(owner.email)
    assert response.status_code == 303, response.text
    return browser


@pytest.fixture
def sign_in_as(client: TestClient) -> Callable[[User], Browser]:
    def _sign_in(user: User) -> Browser:
        client.cookies.clear()
        b = Browser(client)
        assert b.sign_in(user.email).status_code == 303
        return b

    return _sign_in
