"""The health page names networks as people write them ("LinkedIn", "WhatsApp"): the display
names of the app's installed providers, in the apps' rate limits and the channels needing
re-authorisation; a network with no provider installed keeps its code."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from dialogo.accounts.models import Workspace
from dialogo.channels import app_limits
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.core.context import AppContext
from dialogo.providers.linkedin.provider import LinkedInProvider
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.whatsapp.provider import WhatsAppProvider
from dialogo.server import create_app
from tests.web.conftest import Browser


@pytest.fixture
def app(ctx: AppContext) -> FastAPI:
    registry = ProviderRegistry({"linkedin": LinkedInProvider, "whatsapp": WhatsAppProvider})
    return create_app(dataclasses.replace(ctx, providers=registry))


def _channel(db: Session, workspace: Workspace, network: str, app: str, **row: object) -> None:
    db.add(
        Channel(
            workspace_id=workspace.id,
            network=network,
            name=f"Aurora on {network}",
            account_remote_id=f"{network}-{app}",
            account_handle="aurora",
            config={"client_id": app},
            credentials="not-read-here",
            **row,
        )
    )


def section(html: str, anchor: str) -> str:
    part = html[html.index(f'id="{anchor}"') :]
    return part[: part.index("</section>")]


def test_the_health_page_names_networks_by_their_providers_display_names(
    db: Session, signed_in: Browser, workspace: Workspace
) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    _channel(db, workspace, "linkedin", "app-L")
    _channel(db, workspace, "whatsapp", "app-W")
    _channel(db, workspace, "myspace", "app-M")  # no provider installed for it
    _channel(
        db,
        workspace,
        "linkedin",
        "app-L2",
        status=ChannelStatus.reauth_required.value,
        status_reason="token expired",
    )
    until = now + dt.timedelta(minutes=5)
    app_limits.note(
        db,
        [
            app_limits.Note("linkedin", "app-L", "app", until, 90, {}),
            app_limits.Note("whatsapp", "app-W", "app", None, 40, {}),
            app_limits.Note("myspace", "app-M", "app", None, 10, {}),
        ],
        now=now,
    )
    db.commit()
    html = signed_in.get(f"/w/{workspace.id}/publishing/health").text
    apps = section(html, "app-limits")
    assert "<strong>LinkedIn</strong> · app app-L" in apps
    assert "<strong>WhatsApp</strong> · app app-W" in apps
    assert "<strong>myspace</strong> · app app-M" in apps
    assert "Linkedin" not in apps and "Whatsapp" not in apps
    assert "<strong>Aurora on linkedin</strong> (LinkedIn):" in section(html, "channel-problems")
