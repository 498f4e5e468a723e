"""Sign-in, sign-out, redirects to /login, and the CSRF protections of the forms."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from dialogo.accounts.models import User, Workspace
from dialogo.core.context import AppContext
from dialogo.web.cookies import safe_next
from tests.web.conftest import LOGIN_FIELD, Browser


def test_login_page_is_accessible_markup(client: TestClient) -> None:
    r = client.get("/login")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="en"' in html
    assert '<main id="main"' in html
    assert 'href="#main"' in html  # skip link
    assert '<label for="email">E-mail</label>' in html
    assert '<label for="password">Password</label>' in html
    assert 'name="login_token"' in html
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    cookie = r.headers["set-cookie"]
    assert "dialogo_login=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_pages_redirect_to_login_with_next(client: TestClient, workspace: Workspace) -> None:
    r = client.get(f"/w/{workspace.id}/members?x=1")
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=/w/{workspace.id}/members%3Fx%3D1"
    assert client.get("/").headers["location"] == "/login"
    for path in ("/profile", "/tokens", "/system", f"/w/{workspace.id}/audit"):
        assert client.get(path).headers["location"].startswith("/login?next=/"), path


def test_htmx_request_without_session_gets_hx_redirect(client: TestClient) -> None:
    r = client.post("/w/1/members", headers={"HX-Request": "true"})
    assert r.headers["hx-redirect"] == "/login"


def test_sign_in_goes_to_next_then_home(
    browser: Browser, owner: User, workspace: Workspace
) -> None:
    r = browser.sign_in(owner.email, next_url=f"/w/{workspace.id}/members")
    assert r.status_code == 303
    assert r.headers["location"] == f"/w/{workspace.id}/members"
    session_cookie = next(c for c in r.headers.get_list("set-cookie") if "dialogo_session=" in c)
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie
    root = browser.get("/")
    assert root.headers["location"] == f"/w/{workspace.id}"
    # Signed in, /login goes on to where next says.
    assert browser.get("/login?next=/profile").headers["location"] == "/profile"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""],
)
def test_only_relative_next_urls_are_followed(
    browser: Browser, owner: User, workspace: Workspace, target: str
) -> None:
    assert safe_next(target) == "/"
    r = browser.sign_in(owner.email, next_url=target)
    assert r.headers["location"] == "/"
    page = browser.client.get(f"/login?next={target}")
    assert page.headers["location"] == "/"


def test_wrong_password_is_a_friendly_form_error(browser: Browser, owner: User) -> None:
    r = browser.sign_in(owner.email, password="not the password")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in r.text
    assert "Wrong e-mail or password." in r.text
    assert f'value="{owner.email}"' in r.text  # the e-mail stays filled in
    assert "dialogo_session" not in r.headers.get("set-cookie", "")


def test_empty_fields_are_described(browser: Browser) -> None:
    r = browser.sign_in("", password="")
    assert r.status_code == 422
    assert 'aria-invalid="true" aria-describedby="email-error"' in r.text
    assert (
        '<small id="email-error" class="field-error">Enter your e-mail address.</small>' in r.text
    )
    assert 'aria-describedby="password-error"' in r.text


def test_rate_limit_shows_a_friendly_message(
    browser: Browser, owner: User, ctx: AppContext
) -> None:
    for _ in range(ctx.settings.login_max_failures):
        assert browser.sign_in(owner.email, password="wrong password!").status_code == 401
    r = browser.sign_in(owner.email)  # even the right password is refused for now
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert r.headers["content-type"].startswith("text/html")
    assert re.search(
        r"Too many failed sign-ins for this account\. Try again in \d+ minutes?\.", r.text
    )
    assert '"code"' not in r.text  # not the API's JSON


def test_rate_limit_message_in_italian(browser: Browser, owner: User, ctx: AppContext) -> None:
    browser.client.headers["Accept-Language"] = "it-IT,it;q=0.9,en;q=0.5"
    for _ in range(ctx.settings.login_max_failures):
        browser.sign_in(owner.email, password="wrong password!")
    r = browser.sign_in(owner.email)
    assert r.status_code == 429
    assert "Troppi accessi non riusciti per questo account. Riprova tra" in r.text


def test_login_without_form_token_is_refused(client: TestClient, owner: User) -> None:
    client.get("/login")
    r = client.post("/login", data={"email": owner.email, "password": "correct horse battery"})
    assert r.status_code == 403
    assert "The sign-in form expired" in r.text
    assert "dialogo_session" not in r.headers.get("set-cookie", "")


def test_login_token_must_match_the_cookie(client: TestClient, owner: User) -> None:
    token = LOGIN_FIELD.search(client.get("/login").text)
    assert token
    client.cookies.set("dialogo_login", "another-nonce", path="/login")
    r = client.post(
        "/login",
        data={"email": owner.email, "password": "correct horse battery", "login_token": "x"},
    )
    assert r.status_code == 403


def test_login_from_another_origin_is_refused(client: TestClient, owner: User) -> None:
    token = LOGIN_FIELD.search(client.get("/login").text)
    assert token
    r = client.post(
        "/login",
        data={
            "email": owner.email,
            "password": "correct horse battery",
            "login_token": token.group(1),
        },
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403


def test_sign_out_needs_the_csrf_token(signed_in: Browser) -> None:
    r = signed_in.client.post("/logout")
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert "This form expired or did not come from Dialogo" in r.text
    assert signed_in.get("/profile").status_code == 200  # still signed in


def test_sign_out(signed_in: Browser) -> None:
    r = signed_in.post("/logout")
    assert r.status_code == 303
    assert r.headers["location"] == "/login"
    page = signed_in.client.get("/login")
    assert "You have signed out." in page.text
    assert 'role="alert"' in page.text
    assert signed_in.client.get("/profile").status_code == 303  # back to /login
