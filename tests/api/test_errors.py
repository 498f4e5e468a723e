"""Bad input and failures: field-level 422s, 404s, sign-in throttling, and no stack traces."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dialogo.accounts.models import LoginAttempt, Workspace
from dialogo.api.deps import Db
from dialogo.core.context import AppContext
from dialogo.server import create_app
from tests.api.conftest import PROBLEM_JSON, Api, Auth, assert_problem, session_auth
from tests.factories import PASSWORD, make_user, make_workspace


@dataclasses.dataclass
class Signed:
    auth: Auth
    workspace_id: int


@pytest.fixture
def signed(db: Session) -> Signed:
    user = make_user(db)
    workspace = make_workspace(db, user)
    auth = session_auth(db, user)
    db.commit()
    return Signed(auth, workspace.id)


def fields(body: dict[str, object]) -> dict[str, dict[str, str]]:
    errors = body["errors"]
    assert isinstance(errors, list) and errors
    for error in errors:
        assert set(error) >= {"field", "location", "message", "type"}, error
        assert error["message"]
    return {e["field"]: e for e in errors}


# --- 422: what is wrong, field by field ---------------------------------------------------


def test_invalid_json_body(api: Api, signed: Signed) -> None:
    response = api.post(
        "/api/v1/workspaces",
        content=b'{"name": ',
        headers={"content-type": "application/json"},
        auth=signed.auth,
    )
    body = assert_problem(response, 422)
    assert body["code"] == "validation_failed"
    errors = fields(body)
    assert list(errors) == [""], "a JSON syntax error belongs to the body, not to a field"
    assert errors[""]["location"] == "body"
    assert "not valid JSON" in errors[""]["message"]


def test_wrong_types_are_reported_per_field(api: Api, db: Session, signed: Signed) -> None:
    count = db.scalar(select(func.count(Workspace.id)))
    response = api.post(
        "/api/v1/workspaces",
        json={"name": 5, "timezone": "Mars/Olympus_Mons", "language": "fr", "slug": "Not A Slug"},
        auth=signed.auth,
    )
    body = assert_problem(response, 422)
    errors = fields(body)
    assert set(errors) == {"name", "timezone", "language", "slug"}
    assert "Mars/Olympus_Mons" in errors["timezone"]["message"]
    assert errors["language"]["message"] == "language must be one of en, it"
    assert all(e["location"] == "body" for e in errors.values())
    for field in errors:
        assert field in body["detail"]
    assert db.scalar(select(func.count(Workspace.id))) == count


def test_a_body_that_is_not_an_object(api: Api, signed: Signed) -> None:
    body = assert_problem(api.post("/api/v1/workspaces", json=[1, 2], auth=signed.auth), 422)
    assert fields(body)[""]["location"] == "body"


def test_missing_and_nested_fields(api: Api, signed: Signed) -> None:
    response = api.post("/api/v1/tokens", json={"scopes": ["read", "root"]}, auth=signed.auth)
    errors = fields(assert_problem(response, 422))
    assert set(errors) == {"name", "scopes.1"}
    assert errors["name"]["type"] == "missing"


def test_wrong_path_and_query_types(api: Api, signed: Signed) -> None:
    errors = fields(assert_problem(api.get("/api/v1/workspaces/abc", auth=signed.auth), 422))
    assert errors["workspace_id"]["location"] == "path"
    response = api.get(
        f"/api/v1/workspaces/{signed.workspace_id}/audit",
        params={"limit": "many"},
        auth=signed.auth,
    )
    errors = fields(assert_problem(response, 422))
    assert errors["limit"]["location"] == "query"
    response = api.get(
        f"/api/v1/workspaces/{signed.workspace_id}/audit", params={"limit": 0}, auth=signed.auth
    )
    assert "limit" in fields(assert_problem(response, 422))


def test_password_rules_on_change(api: Api, signed: Signed) -> None:
    response = api.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "zq8#x"},
        auth=signed.auth,
    )
    errors = fields(assert_problem(response, 422))
    assert "10" in errors["new_password"]["message"]
    assert "zq8#x" not in response.text, "the input is never echoed"


# --- 404 -----------------------------------------------------------------------------------


def test_unknown_ids_are_404_problems(api: Api, db: Session, signed: Signed) -> None:
    missing = signed.workspace_id + 100_000
    ws = f"/api/v1/workspaces/{signed.workspace_id}"
    for method, url in [
        ("GET", f"/api/v1/workspaces/{missing}"),
        ("PATCH", f"/api/v1/workspaces/{missing}"),
        ("GET", f"/api/v1/workspaces/{missing}/members"),
        ("PATCH", f"{ws}/members/{missing}"),
        ("DELETE", f"{ws}/members/{missing}"),
        ("DELETE", f"/api/v1/tokens/{missing}"),
        ("GET", f"{ws}/logo"),  # no logo yet
        ("GET", "/api/v1/no-such-thing"),
    ]:
        json = {"role": "viewer"} if "members/" in url else {} if method == "PATCH" else None
        body = assert_problem(api.request(method, url, json=json, auth=signed.auth), 404)
        assert body["code"] == "not_found", (method, url)


def test_adding_an_unknown_user_is_404(api: Api, signed: Signed) -> None:
    response = api.post(
        f"/api/v1/workspaces/{signed.workspace_id}/members",
        json={"email": "nobody@example.com", "role": "viewer"},
        auth=signed.auth,
    )
    assert assert_problem(response, 404)["code"] == "user_not_found"


def test_wrong_method_is_a_405_problem(api: Api, signed: Signed) -> None:
    assert_problem(api.put("/api/v1/me", json={}, auth=signed.auth), 405)


def test_oversized_passwords_are_refused_before_hashing(api: Api) -> None:
    response = api.post(
        "/api/v1/auth/session", json={"email": "a@example.com", "password": "x" * 100_000}
    )
    assert "password" in fields(assert_problem(response, 422))


# --- sign-in throttling ----------------------------------------------------------------------


def sign_in(api: Api, email: str, password: str) -> object:
    return api.post("/api/v1/auth/session", json={"email": email, "password": password})


def test_repeated_wrong_passwords_are_throttled(api: Api, ctx: AppContext, db: Session) -> None:
    user = make_user(db)
    bystander = make_user(db)
    db.commit()
    limit = ctx.settings.login_max_failures
    window = dt.timedelta(minutes=ctx.settings.login_window_minutes)

    for _ in range(limit):
        body = assert_problem(sign_in(api, user.email, "wrong password!"), 401)
        assert body["code"] == "wrong_credentials"

    for password in ("wrong password!", PASSWORD):  # the right password does not help now
        response = sign_in(api, user.email.upper(), password)
        body = assert_problem(response, 429)
        assert body["code"] == "too_many_attempts"
        retry_after = int(response.headers["Retry-After"])
        assert 0 < retry_after <= window.total_seconds() + 1
        assert body["retry_after"] == retry_after
        assert "set-cookie" not in response.headers

    assert sign_in(api, bystander.email, PASSWORD).status_code == 200

    # Once the failures are older than the window, the right password works again.
    long_ago = dt.datetime.now(dt.UTC) - window - dt.timedelta(seconds=1)
    db.execute(update(LoginAttempt).where(LoginAttempt.email == user.email).values(at=long_ago))
    db.commit()
    assert sign_in(api, user.email, PASSWORD).status_code == 200


def test_failures_below_the_limit_do_not_block(api: Api, ctx: AppContext, db: Session) -> None:
    user = make_user(db)
    db.commit()
    for _ in range(ctx.settings.login_max_failures - 1):
        assert_problem(sign_in(api, user.email, "wrong password!"), 401)
    assert sign_in(api, user.email, PASSWORD).status_code == 200


def test_unknown_emails_are_throttled_like_known_ones(api: Api, ctx: AppContext) -> None:
    for _ in range(ctx.settings.login_max_failures):
        assert_problem(sign_in(api, "ghost@example.com", "whatever it is"), 401)
    assert_problem(sign_in(api, "ghost@example.com", "whatever it is"), 429)


def test_the_limit_comes_from_the_settings(ctx: AppContext, db: Session) -> None:
    settings = ctx.settings.model_copy(update={"login_max_failures": 2})
    user = make_user(db)
    db.commit()
    with TestClient(create_app(dataclasses.replace(ctx, settings=settings))) as client:
        api = Api(client)
        for _ in range(2):
            assert_problem(sign_in(api, user.email, "wrong password!"), 401)
        assert_problem(sign_in(api, user.email, PASSWORD), 429)


# --- 500: logged, never shown ----------------------------------------------------------------

SECRET_DETAIL = "database password is hunter2 at /srv/dialogo/settings.py line 42"


@pytest.fixture
def failing_app(app: FastAPI) -> FastAPI:
    router = APIRouter(prefix="/api/v1/test-only")

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError(SECRET_DETAIL)

    @router.post("/write-then-boom")
    def write_then_boom(session: Db) -> None:
        session.add(Workspace(name="Half-done", slug="half-done"))
        session.flush()
        raise KeyError(SECRET_DETAIL)

    app.include_router(router)
    return app


@pytest.mark.parametrize("method,path", [("GET", "boom"), ("POST", "write-then-boom")])
def test_unexpected_errors_show_no_stack_trace(
    failing_app: FastAPI, db: Session, caplog: pytest.LogCaptureFixture, method: str, path: str
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="dialogo.api"),
        TestClient(failing_app, raise_server_exceptions=False) as client,
    ):
        response = client.request(method, f"/api/v1/test-only/{path}")
    body = assert_problem(response, 500)
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert body["code"] == "internal_error"
    for leak in ("Traceback", "hunter2", "RuntimeError", "KeyError", "settings.py", 'File "'):
        assert leak not in response.text
    # ... but the operator gets the whole story in the log.
    assert any(r.exc_info and SECRET_DETAIL in str(r.exc_info[1]) for r in caplog.records)
    assert db.scalar(select(func.count(Workspace.id)).where(Workspace.slug == "half-done")) == 0
