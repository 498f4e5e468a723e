"""Public signed media links (``GET /m/<token>``): served without a session to whoever holds a
valid token; forged, altered, expired or dangling tokens are 404s."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User, Workspace
from dialogo.core.config import Settings
from dialogo.core.errors import NotFound
from dialogo.publishing import media
from dialogo.publishing.models import MediaAsset
from tests.publishing.test_media import MP4, png


def secret(settings: Settings) -> str:
    return settings.secret_key.get_secret_value()


@pytest.fixture
def asset(db: Session, owner: User, workspace: Workspace, settings: Settings) -> MediaAsset:
    made = media.upload(
        db,
        accounts.Principal.for_user(owner),
        workspace.id,
        png(7, 7, seed=42),
        filename="insegna.png",
        data_dir=settings.data_dir,
    )
    db.commit()
    return made


def path_of(settings: Settings, asset: MediaAsset) -> str:
    url = media.public_url(settings.public_url, secret(settings), asset.id, asset.sha256)
    assert url.startswith(settings.public_url + "/m/")
    return url.removeprefix(settings.public_url)


def test_a_signed_link_serves_the_file_without_a_session(
    client: TestClient, settings: Settings, asset: MediaAsset
) -> None:
    response = client.get(path_of(settings, asset))  # no cookie: not a sign-in redirect
    assert response.status_code == 200
    assert response.content == png(7, 7, seed=42)
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "insegna.png" in response.headers["content-disposition"]


def test_a_video_is_served_with_its_type(
    client: TestClient, db: Session, owner: User, workspace: Workspace, settings: Settings
) -> None:
    video = media.upload(
        db,
        accounts.Principal.for_user(owner),
        workspace.id,
        MP4,
        filename="reel.mp4",
        data_dir=settings.data_dir,
    )
    db.commit()
    response = client.get(path_of(settings, video))
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    assert response.content == MP4


def test_forged_altered_and_foreign_tokens_are_not_found(
    client: TestClient, settings: Settings, asset: MediaAsset
) -> None:
    good = path_of(settings, asset)
    altered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    forged = "/m/" + media.public_token(
        "another-secret-key-of-some-length!!", asset.id, asset.sha256
    )
    other_hash = "/m/" + media.public_token(secret(settings), asset.id, "0" * 64)
    missing = "/m/" + media.public_token(secret(settings), asset.id + 10_000, asset.sha256)
    for path in (altered, forged, other_hash, missing, "/m/nonsense"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert png(7, 7, seed=42) not in response.content


def test_an_expired_link_is_not_found(
    client: TestClient, settings: Settings, asset: MediaAsset, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = time.time() - media.PUBLIC_URL_TTL.total_seconds() - 60
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: issued)
        old = path_of(settings, asset)
    assert client.get(old).status_code == 404
    with pytest.raises(NotFound) as expired:
        media.read_token(secret(settings), old.removeprefix("/m/"))
    assert expired.value.code == "media_link_expired"
    fresh = path_of(settings, asset)
    assert media.read_token(secret(settings), fresh.removeprefix("/m/")) == (
        asset.id,
        asset.sha256[:16],
    )
    assert media.read_token(
        secret(settings), fresh.removeprefix("/m/"), max_age=dt.timedelta(days=2)
    )


def test_a_file_gone_from_the_disk_is_not_found(
    client: TestClient, settings: Settings, asset: MediaAsset
) -> None:
    path = path_of(settings, asset)
    (settings.data_dir / asset.storage_path).unlink()
    assert client.get(path).status_code == 404
