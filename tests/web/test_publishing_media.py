"""The media library page through the app (TestClient): upload with the errors people meet
(no file, a file that is not an image or video, a file over the limit), thumbnails, alt text,
which networks take each file, and deleting a file only when no post uses it. Two fake
networks are installed (``fakenet`` and ``shortnet``, the default media rules: JPEG, PNG, GIF,
WebP images up to 5 MB and MP4 videos)."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.core.context import AppContext
from dialogo.providers.video import tiny_mp4
from dialogo.publishing import media as media_library
from dialogo.publishing.models import MediaAsset
from dialogo.web.pages import publishing_media
from tests.factories import add_member
from tests.web import test_publishing_pages as _pages
from tests.web.conftest import Browser
from tests.web.test_publishing_pages import Two, compose_form

# The publishing pages' fixtures: two fake networks, the app with them, a channel on each.
app = _pages.app
chans = _pages.chans
networks = _pages.networks
registry = _pages.registry

# A QuickTime header: a video the library accepts but the fake networks do not (MP4 only).
MOV = tiny_mp4(8.0, brand=b"qt  ")


def png(width: int = 640, height: int = 480, colour: tuple[int, int, int] = (120, 70, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def assets_in(db: Session, workspace: Workspace) -> list[MediaAsset]:
    db.expire_all()
    return list(db.scalars(select(MediaAsset).where(MediaAsset.workspace_id == workspace.id)))


def upload(browser: Browser, workspace: Workspace, name: str, data: bytes, alt: str = "") -> object:
    return browser.post(
        f"/w/{workspace.id}/publishing/media",
        {"alt_text": alt},
        files={"file": (name, data, "application/octet-stream")},
    )


def test_upload_an_image_with_alt_text_and_see_its_thumbnail(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two, ctx: AppContext
) -> None:
    page = signed_in.get(f"/w/{workspace.id}/publishing/media")
    assert page.status_code == 200, page.text
    assert "The media library is empty." in page.text
    assert 'aria-current="page">Media</a>' in page.text
    r = upload(signed_in, workspace, "crema.png", png(), "A cup of espresso with crema")
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    [asset] = assets_in(db, workspace)
    assert (asset.mime_type, asset.alt_text) == ("image/png", "A cup of espresso with crema")
    assert (ctx.settings.data_dir / asset.storage_path).read_bytes() == png()
    page = signed_in.get(r.headers["location"])  # type: ignore[attr-defined]
    assert "crema.png is in the library." in page.text
    item = re.search(rf'<li id="media-{asset.id}".*?</li>\s*</ul>\s*</section>', page.text, re.S)
    assert item, page.text
    assert 'alt="A cup of espresso with crema"' in item.group(0)
    # Both networks take a 640×480 PNG.
    assert "Fake network fakenet: accepted" in item.group(0)
    assert "Fake network shortnet: accepted" in item.group(0)

    thumb = signed_in.get(f"/w/{workspace.id}/publishing/media/{asset.id}/thumbnail")
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    assert thumb.headers["x-content-type-options"] == "nosniff"
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert max(image.size) == media_library.THUMBNAIL_SIDE
        assert image.size == (320, 240)
    full = signed_in.get(f"/w/{workspace.id}/publishing/media/{asset.id}/file")
    assert full.content == png() and full.headers["content-type"] == "image/png"


def test_upload_errors_are_shown_and_nothing_is_stored(
    db: Session,
    signed_in: Browser,
    workspace: Workspace,
    chans: Two,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r = signed_in.post(f"/w/{workspace.id}/publishing/media", {"alt_text": "kept"})
    assert r.status_code == 422
    assert "Choose a file to upload." in r.text and ">kept</textarea>" in r.text

    r = upload(signed_in, workspace, "menu.pdf", b"%PDF-1.7\n" + b"x" * 200, "the menu")
    assert r.status_code == 422  # type: ignore[attr-defined]
    text = r.text  # type: ignore[attr-defined]
    assert "not an image or a video Dialogo can post" in text
    assert 'aria-invalid="true" aria-describedby="media-file-error"' in text
    assert ">the menu</textarea>" in text  # what was typed is kept

    r = upload(signed_in, workspace, "empty.png", b"")
    # An empty file part is "no file" for the browser too: the form asks for one.
    assert r.status_code == 422  # type: ignore[attr-defined]

    monkeypatch.setattr(publishing_media, "UPLOAD_LIMIT", 2 * 1024 * 1024)
    r = upload(signed_in, workspace, "huge.png", png() + b"\x00" * (2 * 1024 * 1024))
    assert r.status_code == 413  # type: ignore[attr-defined]
    assert "The file is too large: the limit is 2 MB." in r.text  # type: ignore[attr-defined]
    assert assets_in(db, workspace) == []


def test_each_network_check_is_shown(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    r = upload(signed_in, workspace, "clip.mov", MOV)
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    [asset] = assets_in(db, workspace)
    assert asset.mime_type == "video/quicktime"
    page = signed_in.get(f"/w/{workspace.id}/publishing/media")
    item = re.search(rf'<li id="media-{asset.id}".*?</li>\s*</ul>\s*</section>', page.text, re.S)
    assert item
    assert "Fake network fakenet: refused" in item.group(0)
    assert "does not take video/quicktime" in item.group(0)
    assert "/thumbnail" not in item.group(0)  # no preview for a video: a link to the file
    assert (
        signed_in.get(f"/w/{workspace.id}/publishing/media/{asset.id}/thumbnail").status_code == 404
    )


def test_alt_text_is_edited(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    upload(signed_in, workspace, "crema.png", png())
    [asset] = assets_in(db, workspace)
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/media/{asset.id}/alt",
        {"alt_text": "Latte art: a fern"},
    )
    assert r.status_code == 303
    assert assets_in(db, workspace)[0].alt_text == "Latte art: a fern"
    assert "Alt text of crema.png saved." in signed_in.get(r.headers["location"]).text
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/media/{asset.id}/alt", {"alt_text": "x" * 5001}
    )
    assert r.status_code == 303
    assert "Alt text is at most 5,000 characters." in signed_in.get(r.headers["location"]).text
    assert assets_in(db, workspace)[0].alt_text == "Latte art: a fern"  # unchanged


def test_a_used_file_cannot_be_deleted_an_unused_one_can(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two, ctx: AppContext
) -> None:
    upload(signed_in, workspace, "used.png", png(colour=(1, 2, 3)))
    upload(signed_in, workspace, "spare.png", png(colour=(9, 9, 9)))
    used, spare = sorted(assets_in(db, workspace), key=lambda a: a.filename == "spare.png")
    form = compose_form(chans, "Ciao!", short=False)
    form[f"media-{chans.long.id}"] = [str(used.id)]
    r = signed_in.post(f"/w/{workspace.id}/publishing/posts", {**form, "action": "save"})
    assert r.status_code == 303
    post_id = int(r.headers["location"].rsplit("/", 1)[1])

    page = signed_in.get(f"/w/{workspace.id}/publishing/media").text
    assert "Delete used.png" not in page
    assert f'href="/w/{workspace.id}/publishing/posts/{post_id}">post #{post_id}</a>' in page
    assert "Delete spare.png" in page

    # Forced anyway (a stale page): refused, the row and the file stay.
    r = signed_in.post(f"/w/{workspace.id}/publishing/media/{used.id}/delete")
    assert r.status_code == 303
    after = signed_in.get(r.headers["location"]).text
    assert "This file is used by a post; remove it from the post first." in after
    assert {a.id for a in assets_in(db, workspace)} == {used.id, spare.id}
    assert (ctx.settings.data_dir / used.storage_path).exists()

    spare_path = ctx.settings.data_dir / spare.storage_path
    r = signed_in.post(f"/w/{workspace.id}/publishing/media/{spare.id}/delete")
    assert r.status_code == 303
    assert "spare.png was removed from the library." in signed_in.get(r.headers["location"]).text
    assert {a.id for a in assets_in(db, workspace)} == {used.id}
    assert not spare_path.exists()  # removed once the request's transaction committed


def test_a_rolled_back_delete_keeps_the_file(
    db: Session, owner: User, workspace: Workspace, ctx: AppContext
) -> None:
    principal = accounts.Principal.for_user(owner)
    asset = media_library.upload(
        db,
        principal,
        workspace.id,
        png(colour=(4, 5, 6)),
        filename="keep.png",
        data_dir=ctx.settings.data_dir,
    )
    db.commit()
    path = ctx.settings.data_dir / asset.storage_path
    media_library.delete_asset(
        db, principal, workspace.id, asset.id, data_dir=ctx.settings.data_dir
    )
    db.rollback()
    db.commit()  # a later commit does not remove the file of the delete that was undone
    assert path.exists()
    assert db.get(MediaAsset, asset.id) is not None


def test_a_viewer_sees_the_library_but_cannot_change_it(
    db: Session,
    owner: User,
    workspace: Workspace,
    chans: Two,
    ctx: AppContext,
    sign_in_as: object,
) -> None:
    asset = media_library.upload(
        db,
        accounts.Principal.for_user(owner),
        workspace.id,
        png(),
        filename="crema.png",
        data_dir=ctx.settings.data_dir,
        alt_text="Crema",
    )
    viewer_user = add_member(db, workspace, owner, Role.viewer)
    db.commit()
    browser = sign_in_as(viewer_user)  # type: ignore[operator]
    page = browser.get(f"/w/{workspace.id}/publishing/media")
    assert page.status_code == 200 and "crema.png" in page.text
    assert 'enctype="multipart/form-data"' not in page.text and "Delete crema.png" not in page.text
    r = browser.post(f"/w/{workspace.id}/publishing/media/{asset.id}/delete")
    assert r.status_code == 403
    r = browser.post(
        f"/w/{workspace.id}/publishing/media",
        {},
        files={"file": ("x.png", png(), "image/png")},
    )
    assert r.status_code == 403
    assert len(assets_in(db, workspace)) == 1


def test_another_workspaces_file_is_not_found(
    db: Session, signed_in: Browser, workspace: Workspace, ctx: AppContext
) -> None:
    from tests.factories import make_user, make_workspace

    stranger = make_user(db)
    other = make_workspace(db, stranger, "Moka Nera")
    asset = media_library.upload(
        db,
        accounts.Principal.for_user(stranger),
        other.id,
        png(),
        filename="secret.png",
        data_dir=ctx.settings.data_dir,
    )
    db.commit()
    for path in ("file", "thumbnail"):
        r = signed_in.get(f"/w/{workspace.id}/publishing/media/{asset.id}/{path}")
        assert r.status_code == 404
    r = signed_in.post(f"/w/{workspace.id}/publishing/media/{asset.id}/delete")
    assert r.status_code == 303
    assert db.get(MediaAsset, asset.id) is not None


def test_too_many_attachments_are_counted_in_the_composers_checks(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    """The media check's plural pair where people meet it: the composer's live check and the
    checks a refused schedule shows (read back from the error's details)."""
    uploaded = upload(signed_in, workspace, "crema.png", png())
    assert uploaded.status_code == 303, uploaded.text  # type: ignore[attr-defined]
    [asset] = assets_in(db, workspace)
    form = compose_form(chans, "Ciao!", short=False)
    form[f"media-{chans.long.id}"] = [str(asset.id)] * 5  # the fake networks take 4
    said = '<li class="field-error">Fake network fakenet takes at most 4 attachments <small>'
    r = signed_in.htmx(f"/w/{workspace.id}/publishing/check", form)
    assert r.status_code == 200, r.text
    assert said in r.text
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/posts",
        {**form, "action": "schedule", "date": _pages.tomorrow(), "time": "10:00"},
    )
    assert r.status_code == 422, r.text
    assert "The draft is saved, but:" in r.text and said in r.text  # in the channel's checks
