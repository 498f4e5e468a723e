"""API test fixtures: the app on the test's rolled-back connection, and ways to authenticate."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User
from dialogo.accounts.schemas import TokenCreate
from dialogo.api.deps import CSRF_HEADER, SESSION_COOKIE
from dialogo.core.context import AppContext
from dialogo.server import create_app
from tests.accounts.helpers import cheap_argon2


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_argon2():
        yield


@dataclasses.dataclass(frozen=True)
class Auth:
    """Credentials sent with one request."""

    headers: dict[str, str]


def session_auth(db: Session, user: User, *, ttl: dt.timedelta = dt.timedelta(hours=1)) -> Auth:
    """A web session opened through the service, as the sign-in form does."""
    token, web_session = accounts.create_web_session(db, user, ttl=ttl)
    return Auth({"Cookie": f"{SESSION_COOKIE}={token}", CSRF_HEADER: web_session.csrf_token})


def token_auth(
    db: Session,
    user: User,
    scopes: list[str],
    *,
    workspace_id: int | None = None,
    expires_in_days: int | None = 90,
) -> tuple[Auth, int, str]:
    """An API token of ``user``: (credentials, token id, the plain token)."""
    token, row = accounts.create_api_token(
        db,
        accounts.Principal.for_user(user),
        TokenCreate.model_validate(
            {
                "name": "test",
                "scopes": scopes,
                "workspace_id": workspace_id,
                "expires_in_days": expires_in_days,
            }
        ),
    )
    return Auth({"Authorization": f"Bearer {token}"}), row.id, token


class Api:
    """A test client that sends exactly the credentials it is given (no cookie jar)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def request(
        self, method: str, url: str, *, auth: Auth | None = None, **kwargs: Any
    ) -> httpx.Response:
        self.client.cookies.clear()
        headers = {**(auth.headers if auth else {}), **kwargs.pop("headers", {})}
        response = self.client.request(method, url, headers=headers, **kwargs)
        self.client.cookies.clear()
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


@pytest.fixture
def app(ctx: AppContext) -> FastAPI:
    return create_app(ctx)


@pytest.fixture
def api(app: FastAPI) -> Iterator[Api]:
    with TestClient(app) as client:
        yield Api(client)


PROBLEM_JSON = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["code"]
    return body
