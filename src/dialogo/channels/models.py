"""Connected network accounts ("channels") with encrypted credentials and health."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from dialogo.accounts.models import Audited
from dialogo.core.clock import utcnow
from dialogo.core.db import Base, BigId


class ChannelStatus(enum.StrEnum):
    ok = "ok"
    reauth_required = "reauth_required"
    disconnected = "disconnected"


#: The ``config`` key naming the app (OAuth client id) a channel was connected with.
APP_CONFIG_KEY = "client_id"


def app_key_of(config: Mapping[str, Any] | None) -> str | None:
    """The app (OAuth client id) a channel was connected with, if any: what
    :attr:`Channel.app_key` holds (trimmed, at most 255 characters)."""
    value = (config or {}).get(APP_CONFIG_KEY)
    return (str(value).strip()[:255] or None) if value else None


class Channel(Audited, Base):
    __tablename__ = "channels"
    __table_args__ = (
        UniqueConstraint("workspace_id", "network", "account_remote_id"),
        Index("ix_channels_network_app_key", "network", "app_key"),
    )
    __audit_exclude__ = frozenset({"credentials", "last_checked_at", "app_key"})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    network: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    account_remote_id: Mapped[str] = mapped_column(String(255))
    account_handle: Mapped[str] = mapped_column(String(255))
    account_url: Mapped[str | None] = mapped_column(String(500), default=None)
    # Non-secret settings (a room id, a homeserver URL, a page id).
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # ``config["client_id"]`` stored apart and indexed with the network, so the channels of
    # an app whose rate-limit window is live are found without reading every channel's JSON
    # (dialogo.channels.app_limits). Kept in step with ``config`` on every insert and update
    # (:func:`_keep_app_key`); a bulk ``UPDATE`` of ``config`` must set it too.
    app_key: Mapped[str | None] = mapped_column(String(255), default=None)
    credentials: Mapped[str] = mapped_column(Text)  # Fernet token, never logged
    token_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(24), default=ChannelStatus.ok.value)
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # The provider error code behind ``status_reason`` (``reauth_required``, …): pages word it
    # in the reader's language and show the reason as the network's detail. NULL on rows
    # flagged before it was kept (their reason is shown as stored).
    status_code: Mapped[str | None] = mapped_column(String(40), default=None)
    connected_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_checked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


@event.listens_for(Channel, "before_insert")
@event.listens_for(Channel, "before_update")
def _keep_app_key(_mapper: Mapper[Channel], _connection: Any, channel: Channel) -> None:
    """``app_key`` follows ``config`` whenever a channel is written through the ORM."""
    key = app_key_of(channel.config)
    if channel.app_key != key:
        channel.app_key = key


class OAuthFlow(Base):
    """An authorisation started on a network's consent page and not finished yet.

    ``state`` is the random value the network sends back; ``secrets`` (encrypted like a
    channel's credentials) holds the PKCE code verifier and the app's client secret, which
    never leave the server. A flow is used once and expires after :data:`OAUTH_FLOW_TTL`.
    """

    __tablename__ = "oauth_flows"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    state: Mapped[str] = mapped_column(String(128), unique=True)
    workspace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    network: Mapped[str] = mapped_column(String(40))
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    redirect_uri: Mapped[str] = mapped_column(String(500))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secrets: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)


OAUTH_FLOW_TTL = dt.timedelta(minutes=15)


class AppRateLimit(Base):
    """What a network last said about the limit of an *app* (the client id that several
    channels share), seen by every worker: ``until`` the app's channels wait (the dispatcher's
    claim and the inbox poller skip them), and the last usage figures for the health page.
    Written by :mod:`dialogo.channels.app_limits`; a row whose ``until`` passed is history."""

    __tablename__ = "app_rate_limits"

    network: Mapped[str] = mapped_column(String(40), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    # "app" (Meta's X-App-Usage, LinkedIn's application limit), "app_24h" (X's post cap)
    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    until: Mapped[dt.datetime | None] = mapped_column(default=None, index=True)
    used_percent: Mapped[float | None] = mapped_column(Float, default=None)
    usage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
