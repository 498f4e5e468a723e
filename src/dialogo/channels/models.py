"""Connected network accounts ("channels") with encrypted credentials and health."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dialogo.accounts.models import Audited
from dialogo.core.clock import utcnow
from dialogo.core.db import Base, BigId


class ChannelStatus(enum.StrEnum):
    ok = "ok"
    reauth_required = "reauth_required"
    disconnected = "disconnected"


class Channel(Audited, Base):
    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("workspace_id", "network", "account_remote_id"),)
    __audit_exclude__ = frozenset({"credentials", "last_checked_at"})

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
    credentials: Mapped[str] = mapped_column(Text)  # Fernet token, never logged
    token_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(24), default=ChannelStatus.ok.value)
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    connected_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_checked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


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
