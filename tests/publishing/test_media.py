"""The media library: magic-byte type checks, size limit, alt text, storage, per-network rules."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dialogo.channels.crypto import CredentialCipher
from dialogo.core import i18n
from dialogo.core.context import AppContext
from dialogo.core.errors import InvalidInput
from dialogo.core.i18n import Formatter, translator
from dialogo.providers.base import MediaRules
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.video import tiny_mp4
from dialogo.publishing import media, service
from dialogo.publishing.models import MediaAsset
from dialogo.publishing.schemas import IssueOut, PostCreate, VariantIn
from dialogo.server import create_app
from tests.api.conftest import Api, Auth, assert_problem, token_auth
from tests.publishing.conftest import Brand


def png(width: int = 1, height: int = 1, seed: int = 0) -> bytes:
    """A real, decodable PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
        )

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    rows = b"".join(b"\0" + bytes([seed % 256, 0, 0]) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


MP4 = tiny_mp4(12.0, brand=b"mp42", width=1280, height=720)  # a header the library can read


def test_upload_reads_the_type_from_the_bytes_and_stores_by_hash(
    db: Session, brand: Brand, tmp_path: Path
) -> None:
    asset = media.upload(
        db,
        brand.principal,
        brand.id,
        png(),
        filename="../../etc/foto.png",
        data_dir=tmp_path,
        alt_text="una tazza di caffè",
    )
    assert (asset.mime_type, asset.filename, asset.alt_text) == (
        "image/png",
        "foto.png",
        "una tazza di caffè",
    )
    assert media.content(asset, tmp_path) == png()
    assert asset.storage_path.startswith(f"media/{brand.id}/") and asset.storage_path.endswith(
        ".png"
    )
    again = media.upload(
        db, brand.principal, brand.id, png(), filename="copy.png", data_dir=tmp_path
    )
    assert again.id == asset.id  # the same bytes are one asset
    video = media.upload(db, brand.principal, brand.id, MP4, filename="v.mp4", data_dir=tmp_path)
    assert video.mime_type == "video/mp4"
    updated = media.set_alt_text(db, brand.principal, brand.id, asset.id, "caffè e cornetto")
    assert updated.alt_text == "caffè e cornetto"
    assert [a.id for a in media.list_assets(db, brand.principal, brand.id)] == [video.id, asset.id]


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (b"#!/bin/sh\necho hi\n", "innocent.png", "unsupported_media_type"),  # the name lies
        (b"%PDF-1.7\n" + b"\0" * 100, "flyer.jpg", "unsupported_media_type"),
        (b"", "empty.png", "empty_file"),
        (png() + b"\0" * 500, "big.png", "file_too_large"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(
    db: Session, brand: Brand, tmp_path: Path, data: bytes, name: str, code: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        media.upload(
            db, brand.principal, brand.id, data, filename=name, data_dir=tmp_path, max_bytes=200
        )
    assert refused.value.code == code
    assert not (tmp_path / "media").exists()
    assert media.list_assets(db, brand.principal, brand.id) == []


def test_per_network_checks(db: Session, brand: Brand, tmp_path: Path) -> None:
    images = [
        media.upload(
            db, brand.principal, brand.id, png(seed=i), filename=f"{i}.png", data_dir=tmp_path
        )
        for i in range(3)
    ]
    video = media.upload(db, brand.principal, brand.id, MP4, filename="v.mp4", data_dir=tmp_path)
    strict = MediaRules(max_items=2, max_image_bytes=50, alt_text_max=5)
    images[0].alt_text = "far too long"
    codes = [(i.code, i.field) for i in media.check([*images, video], strict, "Strict")]
    assert ("too_many_media", "media") in codes
    assert ("media_mix", "media") in codes
    assert ("media_too_large", "media[0]") in codes
    assert ("alt_text_too_long", "media[0]") in codes
    no_video = MediaRules(video_types=frozenset())
    assert [(i.code, i.field) for i in media.check([video], no_video, "Photos")] == [
        ("media_type", "media[0]")
    ]
    assert media.check(images[1:], MediaRules(), "Easy") == []


def test_variants_reference_library_media_and_validation_reports_their_issues(
    db: Session,
    brand: Brand,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
    tmp_path: Path,
) -> None:
    assets = [
        media.upload(
            db, brand.principal, brand.id, png(seed=i), filename=f"{i}.png", data_dir=tmp_path
        )
        for i in range(5)
    ]
    post = service.create_post(
        db,
        brand.principal,
        brand.id,
        PostCreate(
            variants=[
                VariantIn(
                    channel_id=brand.channel.id, text="foto", media=[str(a.id) for a in assets]
                )
            ]
        ),
    )
    [result] = service.validate_post(
        db, brand.principal, brand.id, post.id, registry=providers, cipher=cipher
    )
    codes = {i.code for i in result.issues}
    assert "too_many_media" in codes  # the fake network takes 4, like the default rules
    assert "media_unsupported" not in codes  # the dispatcher sends attachments
    service.update_post(
        db,
        brand.principal,
        brand.id,
        post.id,
        service.PostUpdate(
            variants=[VariantIn(channel_id=brand.channel.id, text="foto", media=["424242"])]
        ),
    )
    [result] = service.validate_post(
        db, brand.principal, brand.id, post.id, registry=providers, cipher=cipher
    )
    assert "unknown_media" in {i.code for i in result.issues}


@pytest.fixture
def api(ctx: AppContext, providers: ProviderRegistry) -> Iterator[Api]:
    with TestClient(create_app(dataclasses.replace(ctx, providers=providers))) as client:
        yield Api(client)


def test_media_api(api: Api, db: Session, brand: Brand, ctx: AppContext) -> None:
    auth: Auth
    auth, _, _ = token_auth(db, brand.owner, ["write"])
    db.commit()
    url = f"/api/v1/workspaces/{brand.id}/media"
    made = api.post(
        url,
        files={"file": ("logo.png", png(2, 2), "image/png")},
        data={"alt_text": "il logo"},
        auth=auth,
    )
    assert made.status_code == 201, made.text
    assert made.json()["mime_type"] == "image/png" and made.json()["alt_text"] == "il logo"
    assert (ctx.settings.data_dir / f"media/{brand.id}").is_dir()
    lying = api.post(url, files={"file": ("x.jpg", b"<html></html>", "image/jpeg")}, auth=auth)
    assert assert_problem(lying, 422)["code"] == "unsupported_media_type"
    patched = api.patch(f"{url}/{made.json()['id']}", json={"alt_text": "nuovo"}, auth=auth)
    assert patched.json()["alt_text"] == "nuovo"
    assert [m["id"] for m in api.get(url, auth=auth).json()] == [made.json()["id"]]


def test_a_videos_duration_and_size_are_read_at_upload_and_checked_per_network(
    db: Session, brand: Brand, tmp_path: Path
) -> None:
    video = media.upload(db, brand.principal, brand.id, MP4, filename="v.mp4", data_dir=tmp_path)
    assert (video.duration_seconds, video.width, video.height) == (12.0, 1280, 720)
    long = media.upload(
        db, brand.principal, brand.id, tiny_mp4(151), filename="long.mp4", data_dir=tmp_path
    )
    rules = MediaRules(max_video_seconds=140, min_video_seconds=0.5)
    assert media.check([video], rules, "X") == []
    [issue] = media.check([long], rules, "X")
    assert (issue.code, issue.field) == ("video_too_long", "media[0]")
    assert issue.message == "long.mp4: the video lasts 151.0 s; X takes up to 140 s"
    image = media.upload(db, brand.principal, brand.id, png(), filename="p.png", data_dir=tmp_path)
    assert image.duration_seconds is None and image.width is None  # images: nothing read


def test_an_unreadable_video_is_refused_at_upload_and_nothing_is_stored(
    db: Session, brand: Brand, tmp_path: Path
) -> None:
    header_only = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\0" * 64
    for data in (header_only, tiny_mp4(5, size=400)[:60]):
        with pytest.raises(InvalidInput) as refused:
            media.upload(db, brand.principal, brand.id, data, filename="v.mp4", data_dir=tmp_path)
        assert refused.value.code == "unreadable_video"
        assert "length cannot be read" in refused.value.message
    assert not (tmp_path / "media").exists()
    assert media.list_assets(db, brand.principal, brand.id) == []


# --- counting limits: singular/plural pairs ----------------------------------------------------


def _attached(mime_type: str, how_many: int) -> list[MediaAsset]:
    """Unsaved rows: :func:`media.check` reads only their type, size and alt text."""
    return [
        MediaAsset(filename=f"{n}.bin", mime_type=mime_type, size_bytes=1024, alt_text="")
        for n in range(how_many)
    ]


COUNTED = [
    # (rules, files, code, the English sentence)
    (MediaRules(max_items=1), _attached("image/png", 2), "too_many_media", "1 attachment"),
    (MediaRules(max_items=4), _attached("image/png", 5), "too_many_media", "4 attachments"),
    (
        MediaRules(max_items=4, max_videos=1),
        _attached("video/mp4", 2),
        "too_many_videos",
        "1 video per post",
    ),
    (
        MediaRules(max_items=4, max_videos=2),
        _attached("video/mp4", 3),
        "too_many_videos",
        "2 videos per post",
    ),
]


@pytest.mark.parametrize(("rules", "files", "code", "counted"), COUNTED)
def test_media_count_limits_say_one_or_many(
    rules: MediaRules, files: list[MediaAsset], code: str, counted: str
) -> None:
    [issue] = [i for i in media.check(files, rules, "Strict") if i.code == code]
    said = f"Strict takes at most {counted}"
    assert issue.message == said  # English: logs, the API's message and its error details
    assert issue.render(translator("en"), Formatter("en").number) == said
    assert issue.render(str) == said  # a bare gettext (no catalogue): the English form
    # The API gives a client both forms and the parameter that picks one; a page that reads
    # the issue back from an error's details (the composer's refused schedule) keeps them.
    dumped = issue.model_dump()
    assert dumped["template_plural"] and dumped["count_param"] in dumped["params"]
    assert IssueOut.model_validate(dumped).render(translator("en")) == said


def test_media_count_limits_are_worded_by_the_catalogues_plural_forms(tmp_path: Path) -> None:
    """The form comes from the reader's catalogue (``ngettext``), not from English: an
    Italian catalogue with the pair (the real one gets it from the localiser) words both."""
    catalogue = tmp_path / "it" / "LC_MESSAGES"
    catalogue.mkdir(parents=True)
    (catalogue / "messages.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
        '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
        'msgid "%(network)s takes at most %(max_items)s attachment"\n'
        'msgid_plural "%(network)s takes at most %(max_items)s attachments"\n'
        'msgstr[0] "%(network)s accetta al massimo %(max_items)s allegato"\n'
        'msgstr[1] "%(network)s accetta al massimo %(max_items)s allegati"\n',
        encoding="utf-8",
    )
    italian = i18n.translations(tmp_path, "it")
    said = []
    for rules, files, _code, _counted in COUNTED[:2]:
        [issue] = media.check(files, rules, "Strict")
        said.append(issue.render(italian, Formatter("it").number))
    assert said == [
        "Strict accetta al massimo 1 allegato",
        "Strict accetta al massimo 4 allegati",
    ]


def test_media_count_limit_in_the_api_validation_and_schedule_error(
    api: Api, db: Session, brand: Brand
) -> None:
    auth, _, _ = token_auth(db, brand.owner, ["write"])
    db.commit()
    base = f"/api/v1/workspaces/{brand.id}"
    made = api.post(f"{base}/media", files={"file": ("p.png", png(), "image/png")}, auth=auth)
    assert made.status_code == 201, made.text
    refs = [str(made.json()["id"])] * 5  # the fake network takes 4
    post = api.post(
        f"{base}/posts",
        json={"variants": [{"channel_id": brand.channel.id, "text": "foto", "media": refs}]},
        auth=auth,
    )
    assert post.status_code == 201, post.text
    url = f"{base}/posts/{post.json()['id']}"
    [checked] = api.post(f"{url}/validate", auth=auth).json()
    [issue] = [i for i in checked["issues"] if i["code"] == "too_many_media"]
    display = "Fake network fakenet"
    assert issue == {
        "code": "too_many_media",
        "message": f"{display} takes at most 4 attachments",
        "field": "media",
        "template": "%(network)s takes at most %(max_items)s attachment",
        "params": {"network": display, "max_items": 4},
        "template_plural": "%(network)s takes at most %(max_items)s attachments",
        "count_param": "max_items",
    }
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    refused = api.post(f"{url}/schedule", json={"scheduled_at": tomorrow}, auth=auth)
    problem = assert_problem(refused, 422)
    assert f"fakenet: {display} takes at most 4 attachments" in problem["detail"]  # English
