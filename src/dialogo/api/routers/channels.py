"""Channels API: the networks available, connected accounts and their health, notifications."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from dialogo.accounts.permissions import Permission
from dialogo.api.deps import Ctx, CurrentPrincipal, Db
from dialogo.api.routers.accounts import needs
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.schemas import (
    ChannelConnect,
    ChannelOut,
    ChannelSettingsOut,
    ChannelSettingsUpdate,
    ProviderOut,
)
from dialogo.core import i18n
from dialogo.core.context import AppContext
from dialogo.notifications import kinds
from dialogo.notifications import service as notifications
from dialogo.notifications.models import Notification

router = APIRouter(prefix="/api/v1")


def get_cipher(ctx: Ctx) -> CredentialCipher:
    return CredentialCipher.from_settings(ctx.settings)


Cipher = Annotated[CredentialCipher, Depends(get_cipher)]


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    workspace_id: int
    recipient_id: int | None = None  # personal (a mention); None: for the whole team
    kind: str
    params: dict[str, Any] | None = Field(
        default=None,
        description="What the kind's message is worded with (names, counts, shares; "
        "``variant`` picks one of the kind's wordings); null for a notification stored "
        "before notifications had parameters.",
    )
    severity: str
    title: str = Field(
        description="The message in the language asked for with Accept-Language (English "
        "by default); as stored for a notification without params."
    )
    body: str
    link: str | None
    created_at: dt.datetime
    resolved_at: dt.datetime | None


AcceptLanguage = Annotated[
    str | None,
    Header(
        alias="Accept-Language",
        description="The language of the notifications' titles (English by default).",
    ),
]


def notification_out(ctx: AppContext, n: Notification, accept_language: str | None) -> Any:
    """``n`` with its title and body worded in the language asked for."""
    language = i18n.negotiate(accept_language, ctx.settings.languages, i18n.SOURCE_LANGUAGE)
    registry = ctx.providers
    worded = kinds.render(
        n,
        language,
        network_name=lambda c: registry.get(c).capabilities.display_name if c in registry else c,
    )
    out = NotificationOut.model_validate(n)
    return out.model_copy(update={"title": worded.title, "body": worded.body})


@router.get(
    "/providers", tags=["channels"], operation_id="list_providers", response_model=list[ProviderOut]
)
def list_providers(ctx: Ctx, principal: CurrentPrincipal) -> list[ProviderOut]:
    """The networks this installation can connect, with their rules."""
    return channels.describe_providers(ctx.providers)


@router.get(
    "/workspaces/{workspace_id}/channels",
    tags=["channels"],
    operation_id="list_channels",
    response_model=list[ChannelOut],
    openapi_extra=needs(Permission.channels_read),
)
def list_channels(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return channels.list_channels(session, principal, workspace_id)


@router.post(
    "/workspaces/{workspace_id}/channels",
    tags=["channels"],
    operation_id="connect_channel",
    response_model=ChannelOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.channels_manage),
)
def connect_channel(
    workspace_id: int,
    body: ChannelConnect,
    ctx: Ctx,
    cipher: Cipher,
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    """Check the credentials with the network and connect the account (or re-authorise it).
    A setting the network refuses (Telegram's webhook mode without a public https address)
    leaves the channel connected with its default, said in ``notices``."""
    refused: list[channels.SettingRefused] = []
    channel = channels.connect_channel(
        session,
        principal,
        workspace_id,
        body,
        registry=ctx.providers,
        cipher=cipher,
        public_url=ctx.settings.public_url,
        refused=refused,
    )
    out = ChannelOut.model_validate(channel)
    out.notices = [r.message for r in refused]
    return out


@router.get(
    "/workspaces/{workspace_id}/channels/{channel_id}",
    tags=["channels"],
    operation_id="get_channel",
    response_model=ChannelOut,
    openapi_extra=needs(Permission.channels_read),
)
def get_channel(
    workspace_id: int, channel_id: int, principal: CurrentPrincipal, session: Db
) -> Any:
    return channels.get_channel(session, principal, workspace_id, channel_id)


@router.patch(
    "/workspaces/{workspace_id}/channels/{channel_id}",
    tags=["channels"],
    operation_id="update_channel_settings",
    response_model=ChannelSettingsOut,
    openapi_extra=needs(Permission.channels_manage),
)
def update_channel_settings(
    workspace_id: int,
    channel_id: int,
    body: ChannelSettingsUpdate,
    ctx: Ctx,
    cipher: Cipher,
    principal: CurrentPrincipal,
    session: Db,
) -> ChannelSettingsOut:
    """Rename the channel and change the provider's editable fields (webhook and app secrets,
    configuration). ``values``: absent keeps, ``null`` or ``""`` clears, a string replaces.
    Secret fields come back as set or not set, never with their value."""
    channel = channels.update_channel_settings(
        session,
        principal,
        workspace_id,
        channel_id,
        body,
        registry=ctx.providers,
        cipher=cipher,
        public_url=ctx.settings.public_url,
    )
    return ChannelSettingsOut(
        channel=ChannelOut.model_validate(channel),
        fields=channels.describe_settings(ctx.providers, cipher, channel),
    )


@router.post(
    "/workspaces/{workspace_id}/channels/{channel_id}/check",
    tags=["channels"],
    operation_id="check_channel",
    response_model=ChannelOut,
    openapi_extra=needs(Permission.channels_manage),
)
def check_channel(
    workspace_id: int,
    channel_id: int,
    ctx: Ctx,
    cipher: Cipher,
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    """Ask the network now whether the connection works; the answer updates its health."""
    return channels.check_channel(
        session, principal, workspace_id, channel_id, registry=ctx.providers, cipher=cipher
    )


@router.delete(
    "/workspaces/{workspace_id}/channels/{channel_id}",
    tags=["channels"],
    operation_id="disconnect_channel",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=needs(Permission.channels_manage),
)
def disconnect_channel(
    workspace_id: int, channel_id: int, principal: CurrentPrincipal, session: Db
) -> Response:
    channels.disconnect_channel(session, principal, workspace_id, channel_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/workspaces/{workspace_id}/notifications",
    tags=["notifications"],
    operation_id="list_notifications",
    response_model=list[NotificationOut],
    openapi_extra=needs(Permission.workspace_read),
)
def list_notifications(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    ctx: Ctx,
    include_resolved: Annotated[bool, Query()] = False,
    accept_language: AcceptLanguage = None,
) -> Any:
    found = notifications.list_notifications(
        session, principal, workspace_id, include_resolved=include_resolved
    )
    return [notification_out(ctx, n, accept_language) for n in found]


@router.post(
    "/workspaces/{workspace_id}/notifications/{notification_id}/resolve",
    tags=["notifications"],
    operation_id="resolve_notification",
    response_model=NotificationOut,
    openapi_extra=needs(Permission.notifications_manage),
)
def resolve_notification(
    workspace_id: int,
    notification_id: int,
    principal: CurrentPrincipal,
    session: Db,
    ctx: Ctx,
    accept_language: AcceptLanguage = None,
) -> Any:
    n = notifications.resolve(session, principal, workspace_id, notification_id)
    return notification_out(ctx, n, accept_language)
