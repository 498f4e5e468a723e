"""Configuration: one settings class, read once at the boundary and passed in.

Every field can be set by an environment variable with the ``DIALOGO_`` prefix
(``DIALOGO_DATABASE_URL``) or in a ``.env`` file in the working directory.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from dialogo.providers.netpolicy import OutboundPolicy, parse_allow

PLACEHOLDER_SECRET = "change-me-in-production"  # noqa: S105 - the value we refuse


class Environment(enum.StrEnum):
    development = "development"
    test = "test"
    production = "production"


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which setting and why."""


def default_data_dir() -> Path:
    return Path.cwd() / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DIALOGO_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    env: Environment = Environment.development
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; defaults to a SQLite file in data_dir.",
    )
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)

    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str | None = None

    default_language: str = "en"
    languages: tuple[str, ...] = ("en", "it")

    session_ttl_hours: int = 24 * 14
    cookie_secure: bool = False

    login_max_failures: int = 5
    login_window_minutes: int = 15

    auto_migrate: bool = True

    worker_lease_seconds: int = 60
    worker_poll_seconds: float = 1.0
    worker_heartbeat_seconds: float = 10.0
    worker_max_attempts: int = 5
    worker_backoff_base_seconds: float = 5.0
    worker_backoff_max_seconds: float = 3600.0
    worker_in_process: bool = True
    # Streams (inbox): networks that push news wake the poller at once (dialogo.inbox.streams).
    streams: bool = True  # serve's in-process worker streams; ``dialogo worker --streams``
    streams_max: int = 50  # channels streamed at once per process; the rest are polled only
    streams_refresh_seconds: float = 30.0  # how often the list of channels is re-read

    first_user_email: str | None = None
    first_user_password: SecretStr | None = None

    # Fernet keys for network credentials: the first encrypts, all decrypt (rotation).
    credentials_keys: tuple[str, ...] = ()
    channel_refresh_margin_minutes: int = 15

    providers_allow: tuple[str, ...] = ()  # empty: every installed provider
    providers_deny: tuple[str, ...] = ()

    log_level: str = "INFO"

    # Server-side fetches of addresses people type (RSS feeds, Mastodon instances, Matrix
    # homeservers): internal addresses (private, loopback, link-local, ...) are refused unless
    # allowed. ``None``: allowed in development only. ``outbound_allow``: CIDRs and host names
    # allowed even when internal (e.g. ``10.1.2.0/24``, ``synapse.internal``).
    outbound_allow_private: bool | None = None
    outbound_allow: tuple[str, ...] = ()

    # Outgoing e-mail (listening crisis alerts). No host: e-mail alerts are recorded as undelivered.
    smtp_host: str | None = None
    smtp_port: int = 587  # 465: implicit TLS; otherwise STARTTLS when the server offers it
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None

    # An emotion model made with `dialogo nlp train --format multiemotions` (none ships: the
    # training data is non-commercial). Set: listening stores each mention's emotions.
    emotion_model: Path | None = None
    # Worker processes that enrich large listening batches (dialogo.listening.parallel);
    # None: one per core this process may use; 1: enrich in process only.
    listening_workers: int | None = Field(default=None, ge=1)

    def check(self) -> Settings:
        """Refuse settings that are unsafe or inconsistent; raise ``ConfigError``."""
        if self.env is not Environment.development:
            secret = self.secret_key.get_secret_value()
            if secret == PLACEHOLDER_SECRET or len(secret) < 32:
                raise ConfigError(
                    "DIALOGO_SECRET_KEY must be set to a random value of at least 32 characters "
                    f"when DIALOGO_ENV is {self.env.value!r} (the placeholder is accepted only in "
                    "development). Generate one with: python -c "
                    '"import secrets; print(secrets.token_urlsafe(48))"'
                )
        if self.database_url:
            try:
                make_url(self.database_url)
            except (ArgumentError, ValueError):  # the message would repeat the password
                raise ConfigError(
                    "DIALOGO_DATABASE_URL is not a valid database URL; expected for example "
                    "postgresql+psycopg://user:password@host:5432/dialogo"
                ) from None
        try:
            parse_allow(self.outbound_allow)
        except ValueError as exc:
            raise ConfigError(f"DIALOGO_OUTBOUND_ALLOW: {exc}") from None
        if self.default_language not in self.languages:
            raise ConfigError(
                f"DIALOGO_DEFAULT_LANGUAGE {self.default_language!r} is not one of "
                f"{', '.join(self.languages)}"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dialogo.sqlite3').resolve()}"

    @property
    def outbound_policy(self) -> OutboundPolicy:
        """The addresses the server may fetch on a person's behalf (see ``netpolicy``)."""
        allow_private = self.outbound_allow_private
        if allow_private is None:
            allow_private = self.env is Environment.development
        return OutboundPolicy.from_allow_list(self.outbound_allow, allow_private=allow_private)

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def public_url(self) -> str:
        return self.base_url or f"http://{self.host}:{self.port}"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings once (environment, ``.env``, then explicit overrides) and check them."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"DIALOGO_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc
    return settings.check()
