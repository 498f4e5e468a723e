"""A video's duration is known to the composer: read from the MP4 header when the file enters
the media library (migration 0020), shown there, and checked by the composer's live validation
against each network's rules (X: 0.5-140 s, LinkedIn: 3 s-30 min) before anything is
scheduled. A video whose header cannot be read is refused at upload, nothing stored."""

from __future__ import annotations

import dataclasses
import hashlib
import re

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.models import Workspace
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.core.context import AppContext
from dialogo.providers.base import Credentials
from dialogo.providers.linkedin.provider import LinkedInProvider
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.video import tiny_mp4
from dialogo.providers.x.provider import XProvider
from dialogo.publishing.models import MediaAsset
from dialogo.server import create_app
from tests.web.conftest import Browser


@pytest.fixture
def app(ctx: AppContext) -> FastAPI:
    registry = ProviderRegistry({"x": XProvider, "linkedin": LinkedInProvider})
    return create_app(dataclasses.replace(ctx, providers=registry))


def _channel(db: Session, workspace: Workspace, ctx: AppContext, network: str) -> Channel:
    config = {"client_id": "app-1"}
    if network == "linkedin":
        config["organization_id"] = "2414183"
    channel = Channel(
        workspace_id=workspace.id,
        network=network,
        name=f"Aurora on {network}",
        account_remote_id="2244994945",
        account_handle="aurora",
        config=config,
        credentials=CredentialCipher.from_settings(ctx.settings).encrypt(
            Credentials(access_token="token", account_id="2244994945")
        ),
        status=ChannelStatus.ok.value,
    )
    db.add(channel)
    db.commit()
    return channel


def _upload(browser: Browser, workspace: Workspace, name: str, data: bytes) -> MediaAsset | str:
    r = browser.post(
        f"/w/{workspace.id}/publishing/media",
        {"alt_text": ""},
        files={"file": (name, data, "application/octet-stream")},
    )
    return r.text if r.status_code != 303 else name


def _asset(db: Session, workspace: Workspace, name: str) -> MediaAsset:
    db.expire_all()
    found = db.scalar(
        select(MediaAsset).where(
            MediaAsset.workspace_id == workspace.id, MediaAsset.filename == name
        )
    )
    assert found is not None
    return found


def test_the_duration_is_stored_at_upload_and_shown_in_the_library(
    db: Session, signed_in: Browser, workspace: Workspace, ctx: AppContext
) -> None:
    _channel(db, workspace, ctx, "x")
    assert _upload(signed_in, workspace, "lungo.mp4", tiny_mp4(151, width=1280, height=720)) == (
        "lungo.mp4"
    )
    asset = _asset(db, workspace, "lungo.mp4")
    assert (asset.duration_seconds, asset.width, asset.height) == (151.0, 1280, 720)
    page = signed_in.get(f"/w/{workspace.id}/publishing/media").text
    item = re.search(rf'<li id="media-{asset.id}".*?</li>\s*</ul>\s*</section>', page, re.S)
    assert item, page
    assert '<span class="media-duration">151 s</span>' in item.group(0)
    assert "1280×720" in item.group(0)
    # The library's per-network verdict already knows X refuses it.
    assert "the video lasts 151 s; X takes up to 140 s" in item.group(0)


def test_the_composer_flags_a_151_second_video_for_x_live_and_not_for_linkedin(
    db: Session, signed_in: Browser, workspace: Workspace, ctx: AppContext
) -> None:
    x = _channel(db, workspace, ctx, "x")
    li = _channel(db, workspace, ctx, "linkedin")
    _upload(signed_in, workspace, "lungo.mp4", tiny_mp4(151, size=80_000))
    asset = _asset(db, workspace, "lungo.mp4")
    form: dict[str, object] = {
        "channel": [str(x.id), str(li.id)],
        f"text-{x.id}": "Tostatura dal vivo",
        f"text-{li.id}": "Tostatura dal vivo",
        f"media-{x.id}": str(asset.id),
        f"media-{li.id}": str(asset.id),
    }
    r = signed_in.htmx(f"/w/{workspace.id}/publishing/check", form)
    assert r.status_code == 200, r.text
    assert r.text.count("the video lasts 151 s") == 1, r.text
    assert "lungo.mp4: the video lasts 151 s; X takes up to 140 s" in r.text
    # Shortened to 140 s (X's most): nothing to say.
    _upload(signed_in, workspace, "corto.mp4", tiny_mp4(140, size=80_000))
    form[f"media-{x.id}"] = str(_asset(db, workspace, "corto.mp4").id)
    r = signed_in.htmx(f"/w/{workspace.id}/publishing/check", form)
    assert "the video lasts" not in r.text, r.text


def test_a_video_whose_header_cannot_be_read_is_refused_and_nothing_is_stored(
    db: Session, signed_in: Browser, workspace: Workspace, ctx: AppContext
) -> None:
    header_only = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\0" * 64
    text = _upload(signed_in, workspace, "rotto.mp4", header_only)
    assert "The length of this video cannot be read" in text
    assert db.scalars(select(MediaAsset).where(MediaAsset.workspace_id == workspace.id)).all() == []
    digest = hashlib.sha256(header_only).hexdigest()
    assert list(ctx.settings.data_dir.glob(f"media/*/{digest}*")) == []
