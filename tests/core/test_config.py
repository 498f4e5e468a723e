"""Settings: environment variables and .env, defaults, and refusing unsafe values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dialogo.core.config import (
    PLACEHOLDER_SECRET,
    ConfigError,
    Environment,
    Settings,
    load_settings,
)

GOOD_SECRET = "k" * 48


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No DIALOGO_ variable from the outside, and a working directory without a .env file."""
    for name in list(os.environ):
        if name.upper().startswith("DIALOGO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults(clean_env: Path) -> None:
    settings = load_settings()
    assert settings.env is Environment.development
    assert settings.data_dir == clean_env / "data"
    assert settings.resolved_database_url == f"sqlite:///{clean_env / 'data' / 'dialogo.sqlite3'}"
    assert settings.is_sqlite
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.secret_key.get_secret_value() == PLACEHOLDER_SECRET


@pytest.mark.parametrize("env", ["production", "test"])
def test_placeholder_secret_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch, env: str
) -> None:
    monkeypatch.setenv("DIALOGO_ENV", env)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "DIALOGO_SECRET_KEY" in message
    assert repr(env) in message
    assert "secrets.token_urlsafe" in message  # it says how to make one
    assert "\n" not in message


@pytest.mark.parametrize("secret", ["", "short", "x" * 31])
def test_short_secrets_are_refused_in_production(secret: str) -> None:
    with pytest.raises(ConfigError, match="DIALOGO_SECRET_KEY"):
        load_settings(env="production", secret_key=secret)


def test_a_real_secret_is_accepted_in_production() -> None:
    settings = load_settings(env="production", secret_key=GOOD_SECRET)
    assert settings.secret_key.get_secret_value() == GOOD_SECRET
    assert GOOD_SECRET not in repr(settings)  # secrets do not leak into logs


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIALOGO_ENV", "production")
    monkeypatch.setenv("DIALOGO_SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("DIALOGO_PORT", "9123")
    monkeypatch.setenv("DIALOGO_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("DIALOGO_DATABASE_URL", "postgresql+psycopg://u@db/dialogo")
    monkeypatch.setenv("DIALOGO_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("DIALOGO_LANGUAGES", '["en", "it"]')
    monkeypatch.setenv("DIALOGO_DEFAULT_LANGUAGE", "it")
    settings = load_settings()
    assert settings.env is Environment.production
    assert settings.port == 9123
    assert settings.data_dir == tmp_path / "elsewhere"
    assert settings.resolved_database_url == "postgresql+psycopg://u@db/dialogo"
    assert not settings.is_sqlite
    assert settings.login_max_failures == 3
    assert settings.default_language == "it"


def test_dotenv_is_read_and_the_environment_wins(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / ".env").write_text(
        "DIALOGO_PORT=9001\nDIALOGO_HOST=0.0.0.0\nDIALOGO_SESSION_TTL_HOURS=5\nUNRELATED=1\n",
        encoding="utf-8",
    )
    settings = load_settings()
    assert (settings.port, settings.host, settings.session_ttl_hours) == (9001, "0.0.0.0", 5)
    monkeypatch.setenv("DIALOGO_PORT", "9002")
    assert load_settings().port == 9002
    assert load_settings(port=9003).port == 9003


def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALOGO_PORT", "eighty")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "DIALOGO_PORT" in str(info.value)
    monkeypatch.delenv("DIALOGO_PORT")
    monkeypatch.setenv("DIALOGO_ENV", "staging")
    with pytest.raises(ConfigError, match="DIALOGO_ENV"):
        load_settings()


@pytest.mark.parametrize("url", ["postgresql://u:hunter2@db:port/x", "not a url"])
def test_malformed_database_urls_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(ConfigError, match="DIALOGO_DATABASE_URL") as info:
        load_settings(database_url=url)
    assert "hunter2" not in str(info.value)


def test_default_language_must_be_offered() -> None:
    with pytest.raises(ConfigError, match="DIALOGO_DEFAULT_LANGUAGE"):
        load_settings(default_language="fr")


def test_settings_are_not_read_at_import() -> None:
    # Changing the environment after import changes what the next load sees.
    os.environ["DIALOGO_PORT"] = "7001"
    try:
        assert load_settings().port == 7001
        assert Settings().port == 7001
    finally:
        del os.environ["DIALOGO_PORT"]
