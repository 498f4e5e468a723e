"""Channel input and output models. Credentials go in; they never come out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dialogo.channels.models import ChannelStatus


class ChannelCredentialsIn(BaseModel):
    """What a network needs to connect: an app password (Bluesky), a bot token (Telegram),
    an access token (Matrix, Mastodon), or an OAuth result."""

    model_config = ConfigDict(extra="forbid")

    access_token: str | None = Field(default=None, max_length=8192)
    refresh_token: str | None = Field(default=None, max_length=8192)
    account_id: str | None = Field(
        default=None, max_length=255, description="handle or user id, where the network needs it"
    )
    extra: dict[str, str] = Field(default_factory=dict)


class ChannelConnect(BaseModel):
    network: str = Field(min_length=1, max_length=40)
    name: str | None = Field(default=None, max_length=200)
    credentials: ChannelCredentialsIn
    config: dict[str, str] = Field(default_factory=dict)


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    workspace_id: int
    network: str
    name: str
    account_remote_id: str
    account_handle: str
    account_url: str | None
    config: dict[str, Any]
    status: ChannelStatus
    status_reason: str | None
    #: The provider error code behind ``status_reason`` (null on channels flagged before it
    #: was kept): a client words the status by it, the reason is the network's own text.
    status_code: str | None = None
    token_expires_at: dt.datetime | None
    created_at: dt.datetime
    last_checked_at: dt.datetime | None
    #: Settings chosen when connecting that the network refused (the channel is connected and
    #: kept their previous value, e.g. Telegram's polling): said once, in the connect answer.
    notices: list[str] = []


class ProviderOut(BaseModel):
    network: str
    display_name: str
    auth: str
    text_limit: int
    text_counting: str
    max_media: int
    threads: bool
    replies: bool
    direct_messages: bool
    metrics: bool
    search: bool
    publishes: bool


class ChannelSettingsUpdate(BaseModel):
    """A change to a connected channel: its name and the provider's editable fields.

    ``values``: a key that is absent is left as it is; ``null`` (or an empty string) clears
    the field; a string replaces it. Secret values go in and never come out."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    values: dict[str, str | None] = Field(default_factory=dict)


class ChannelFieldOut(BaseModel):
    """One editable field. A secret field says only whether it is set, never its value."""

    name: str
    label: str
    kind: str
    secret: bool
    required: bool
    help: str
    is_set: bool
    value: str | None  # always ``None`` for a secret field
    #: the values it takes, when the provider declares them (offered as a list; the first is
    #: the default), as on the connect form
    choices: list[str] = []


class ChannelSettingsOut(BaseModel):
    channel: ChannelOut
    fields: list[ChannelFieldOut]
