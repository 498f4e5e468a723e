"""Error pages: HTML (translated) for web paths, problem+json for /api/ and /health."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.web.conftest import Browser


def test_unknown_page_is_an_html_404(client: TestClient) -> None:
    r = client.get("/no/such/page")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in r.text
    assert '<html lang="en"' in r.text
    assert 'href="/login"' in r.text


def test_unknown_page_in_italian_from_accept_language(client: TestClient) -> None:
    r = client.get("/no/such/page", headers={"Accept-Language": "it-IT,it;q=0.9"})
    assert r.status_code == 404
    assert '<html lang="it"' in r.text
    assert "<h1>Pagina non trovata</h1>" in r.text


def test_signed_in_404_uses_the_user_language(signed_in: Browser) -> None:
    signed_in.post("/language", {"language": "it", "next": "/"})
    r = signed_in.get("/w/424242")
    assert r.status_code == 404
    assert "<h1>Pagina non trovata</h1>" in r.text
    assert "Torna ai tuoi spazi di lavoro" in r.text


def test_api_and_health_keep_problem_json(client: TestClient) -> None:
    r = client.get("/api/v1/no-such-thing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "not_found"
    r = client.get("/api/v1/workspaces")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    r = client.post("/health")
    assert r.status_code == 405
    assert r.headers["content-type"] == "application/problem+json"
    assert client.get("/health").json()["status"] == "ok"


def test_method_not_allowed_is_html(client: TestClient) -> None:
    r = client.get("/logout")
    assert r.status_code == 405
    assert r.headers["content-type"].startswith("text/html")
    assert "This address does not accept this request" in r.text


def test_unexpected_error_is_an_html_500_without_trace(app: FastAPI) -> None:
    def explode() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/boom", explode)
    app.add_api_route("/api/v1/boom", explode)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/boom", headers={"Accept-Language": "it"})
        assert r.status_code == 500
        assert r.headers["content-type"].startswith("text/html")
        assert "Qualcosa è andato storto da parte nostra" in r.text
        assert "secret internals" not in r.text and "Traceback" not in r.text
        r = client.get("/api/v1/boom")
        assert r.status_code == 500
        assert r.json()["code"] == "internal_error"
        assert "secret internals" not in r.text
