"""The media library: uploads (size limit, type from the file's magic bytes, never from its
name or the browser's word), alt text, storage under the data directory by content hash, and
per-network checks against each provider's :class:`~dialogo.providers.base.MediaRules`.

Variants reference assets by id (``PostVariant.media`` holds ``"<asset id>"`` strings).

The dispatcher sends a variant's media (:class:`MediaSource` reads the bytes of one variant
at a time, just before its publish, and gives each file a public signed URL for the networks
that fetch media themselves, such as Instagram). That URL is ``<public_url>/m/<token>``: the
token is an itsdangerous signature (keyed by the secret key) over the asset's id and hash,
valid for :data:`PUBLIC_URL_TTL`, served by ``dialogo.web.pages.media_public`` without a
session.

A file written for an upload whose transaction then rolls back stays on disk (it is named
by its hash, so a later upload of the same bytes reuses it); nothing cleans such files up yet.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path

import filetype  # type: ignore[import-untyped]
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.core.errors import InvalidInput, NotFound
from dialogo.core.i18n import N_, Nn_, Param, Plural
from dialogo.providers.base import Media, MediaRules
from dialogo.providers.video import duration_issues, mp4_info
from dialogo.publishing.models import MediaAsset
from dialogo.publishing.schemas import IssueOut

#: The largest upload accepted (the largest any network's rules allow is checked per network).
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
ALT_TEXT_MAX = 5000
#: Types the library accepts, by their magic bytes.
ACCEPTED = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4", "video/quicktime"}
)
MEDIA_DIR = "media"
#: How long a public media URL stays valid (Instagram fetches a file when its container is
#: made, and a container expires after 24 hours).
PUBLIC_URL_TTL = dt.timedelta(hours=24)
PUBLIC_PATH = "/m/"
_SALT = "dialogo.media.public"


class MediaOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    workspace_id: int
    filename: str
    mime_type: str
    size_bytes: int
    sha256: str
    alt_text: str
    #: A video's length in seconds and picture size, from its header (``None``: unknown).
    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None


class AltTextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alt_text: str = Field(max_length=ALT_TEXT_MAX)


def sniff(data: bytes) -> str | None:
    """The MIME type the bytes say they are, or ``None``."""
    kind = filetype.guess(data[:8192])
    return str(kind.mime) if kind is not None else None


def _safe_name(filename: str | None) -> str:
    name = Path(filename or "upload").name.strip() or "upload"
    return name[:255]


def upload(
    session: Session,
    principal: Principal,
    workspace_id: int,
    data: bytes,
    *,
    filename: str | None,
    data_dir: Path,
    alt_text: str = "",
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> MediaAsset:
    """Store an image or video in the workspace's library (the same bytes twice: one asset)."""
    authorize(session, principal, workspace_id, Permission.posts_write)
    if not data:
        raise InvalidInput("the file is empty", code="empty_file")
    if len(data) > max_bytes:
        raise InvalidInput(
            f"the file is over {max_bytes // (1024 * 1024)} MB", code="file_too_large"
        )
    if len(alt_text) > ALT_TEXT_MAX:
        raise InvalidInput(f"alt text is at most {ALT_TEXT_MAX} characters", code="alt_too_long")
    mime = sniff(data)
    if mime not in ACCEPTED:
        raise InvalidInput(
            f"{_safe_name(filename)} is not an image or video Dialogo can post "
            f"({mime or 'unrecognised content'}); use JPEG, PNG, GIF, WebP, MP4 or MOV",
            code="unsupported_media_type",
        )
    seconds, width, height = _video_header(data, mime, filename)
    digest = hashlib.sha256(data).hexdigest()
    existing = session.scalar(
        select(MediaAsset).where(
            MediaAsset.workspace_id == workspace_id, MediaAsset.sha256 == digest
        )
    )
    if existing is not None:
        if existing.duration_seconds is None and seconds is not None:  # stored before 0020
            existing.duration_seconds, existing.width, existing.height = seconds, width, height
            session.flush()
        return existing
    extension = mime.split("/")[1].replace("quicktime", "mov").replace("jpeg", "jpg")
    relative = Path(MEDIA_DIR) / str(workspace_id) / f"{digest}.{extension}"
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(target)  # atomic: a reader never sees half a file
    asset = MediaAsset(
        workspace_id=workspace_id,
        uploaded_by=principal.user_id,
        filename=_safe_name(filename),
        mime_type=mime,
        size_bytes=len(data),
        sha256=digest,
        storage_path=relative.as_posix(),
        alt_text=alt_text,
        duration_seconds=seconds,
        width=width,
        height=height,
    )
    session.add(asset)
    session.flush()
    return asset


def _video_header(
    data: bytes, mime: str, filename: str | None
) -> tuple[float | None, int | None, int | None]:
    """A video's duration and picture size from its header, read before anything is stored:
    a video whose header cannot be read is refused (the networks would refuse it too, after
    a long upload). Images: nothing."""
    if not mime.startswith("video/"):
        return None, None, None
    info = mp4_info(data)
    if info is None or info.seconds is None:
        raise InvalidInput(
            f"{_safe_name(filename)}: the video's length cannot be read (its MP4 header, the "
            "'moov' box, is missing, cut short or says the length is unknown); export it again "
            "as a complete MP4 or MOV file",
            code="unreadable_video",
        )
    return info.seconds, info.width, info.height


def get_asset(
    session: Session, principal: Principal, workspace_id: int, asset_id: int
) -> MediaAsset:
    authorize(session, principal, workspace_id, Permission.posts_read)
    asset = session.get(MediaAsset, asset_id)
    if asset is None or asset.workspace_id != workspace_id:
        raise NotFound("media not found")
    return asset


def list_assets(session: Session, principal: Principal, workspace_id: int) -> list[MediaAsset]:
    authorize(session, principal, workspace_id, Permission.posts_read)
    return list(
        session.scalars(
            select(MediaAsset)
            .where(MediaAsset.workspace_id == workspace_id)
            .order_by(MediaAsset.id.desc())
        )
    )


def set_alt_text(
    session: Session, principal: Principal, workspace_id: int, asset_id: int, alt_text: str
) -> MediaAsset:
    authorize(session, principal, workspace_id, Permission.posts_write)
    asset = get_asset(session, principal, workspace_id, asset_id)
    if len(alt_text) > ALT_TEXT_MAX:
        raise InvalidInput(f"alt text is at most {ALT_TEXT_MAX} characters", code="alt_too_long")
    asset.alt_text = alt_text
    session.flush()
    return asset


def content(asset: MediaAsset, data_dir: Path) -> bytes:
    return (data_dir / asset.storage_path).read_bytes()


def resolve_refs(session: Session, workspace_id: int, refs: Sequence[object]) -> list[MediaAsset]:
    """A variant's media references, in order; an unknown one is an error naming it."""
    ids: list[int] = []
    for ref in refs:
        text = str(ref).strip()
        if not text.isdigit():
            raise InvalidInput(f"{text!r} is not a media library id", code="unknown_media")
        ids.append(int(text))
    found = {
        a.id: a
        for a in session.scalars(
            select(MediaAsset).where(
                MediaAsset.workspace_id == workspace_id, MediaAsset.id.in_(ids)
            )
        )
    }
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(
            f"no media {', '.join(map(str, missing))} in this workspace's library",
            code="unknown_media",
        )
    return [found[i] for i in ids]


def check(assets: Sequence[MediaAsset], rules: MediaRules, network: str) -> list[IssueOut]:
    """What a network would refuse in these attachments (pure)."""
    issues: list[IssueOut] = []

    def issue(
        code: str, template: str | Plural, params: dict[str, Param], index: int | None = None
    ) -> None:
        field = "media" if index is None else f"media[{index}]"
        issues.append(IssueOut.of(code, template, field, {"network": network, **params}))

    if len(assets) > rules.max_items:
        issue(
            "too_many_media",
            Plural(
                Nn_(
                    "%(network)s takes at most %(max_items)s attachment",
                    "%(network)s takes at most %(max_items)s attachments",
                ),
                count="max_items",
            ),
            {"max_items": rules.max_items},
        )
    images = [a for a in assets if a.mime_type in rules.image_types]
    videos = [a for a in assets if a.mime_type in rules.video_types]
    if images and videos and not rules.mix_images_and_video:
        issue("media_mix", N_("%(network)s does not mix images and videos in one post"), {})
    if rules.max_videos is not None and len(videos) > rules.max_videos:
        issue(
            "too_many_videos",
            Plural(
                Nn_(
                    "%(network)s takes at most %(max_videos)s video per post",
                    "%(network)s takes at most %(max_videos)s videos per post",
                ),
                count="max_videos",
            ),
            {"max_videos": rules.max_videos},
        )
    for index, asset in enumerate(assets):
        if asset in images:
            limit = rules.max_image_bytes
        elif asset in videos:
            limit = rules.max_video_bytes
        else:
            issue(
                "media_type",
                N_("%(network)s does not take %(mime_type)s"),
                {"mime_type": asset.mime_type},
                index,
            )
            continue
        if asset.size_bytes > limit:
            issue(
                "media_too_large",
                N_("%(file)s is %(size)s MB; %(network)s takes up to %(limit)s MB"),
                {
                    "file": asset.filename,
                    "size": round(asset.size_bytes / 1_048_576, 1),
                    "limit": round(limit / 1_048_576, 1),
                },
                index,
            )
        if asset in videos and asset.size_bytes < rules.min_video_bytes:
            issue(
                "media_too_small",
                N_("%(file)s is %(size)s KB; %(network)s needs at least %(limit)s KB"),
                {
                    "file": asset.filename,
                    "size": round(asset.size_bytes / 1024, 1),
                    "limit": round(rules.min_video_bytes / 1024, 1),
                },
                index,
            )
        if asset in videos and asset.duration_seconds is not None:
            for found in duration_issues(
                asset.duration_seconds,
                rules,
                network=network,
                field=f"media[{index}]",
                file=asset.filename,
            ):
                issue(found.code, found.template, dict(found.params), index)
        if rules.alt_text_max is not None and len(asset.alt_text) > rules.alt_text_max:
            issue(
                "alt_text_too_long",
                N_("%(network)s takes alt text up to %(alt_text_max)s characters"),
                {"alt_text_max": rules.alt_text_max},
                index,
            )
    return issues


# --- public signed URLs (for networks that fetch media themselves) ----------------------------


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def public_token(secret_key: str, asset_id: int, sha256: str) -> str:
    return _serializer(secret_key).dumps([asset_id, sha256[:16]])


def public_url(public_base: str, secret_key: str, asset_id: int, sha256: str) -> str:
    return public_base.rstrip("/") + PUBLIC_PATH + public_token(secret_key, asset_id, sha256)


def read_token(
    secret_key: str, token: str, *, max_age: dt.timedelta = PUBLIC_URL_TTL
) -> tuple[int, str]:
    """The asset id and hash prefix a public token names; :class:`NotFound` when the token is
    forged, altered or expired (the URL then simply does not exist)."""
    try:
        value = _serializer(secret_key).loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        raise NotFound("this media link has expired", code="media_link_expired") from None
    except BadSignature:
        raise NotFound("media not found") from None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or not isinstance(value[1], str)
    ):
        raise NotFound("media not found")
    return value[0], value[1]


def public_asset(session: Session, secret_key: str, token: str) -> MediaAsset:
    """The asset a valid public token names (no principal: the signature is the permission)."""
    asset_id, digest = read_token(secret_key, token)
    asset = session.get(MediaAsset, asset_id)
    if asset is None or not asset.sha256.startswith(digest):
        raise NotFound("media not found")
    return asset


# --- what the dispatcher sends -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MediaFile:
    """One attachment of a claimed variant: the asset's row, without its bytes."""

    asset_id: int
    storage_path: str
    mime_type: str
    alt_text: str
    filename: str
    size_bytes: int
    sha256: str


class MissingMedia(Exception):
    """An attachment can no longer be read (removed from the library or from the disk)."""


def files_for(
    session: Session, refs_by_variant: Mapping[int, tuple[int, Sequence[object]]]
) -> dict[int, list[MediaFile] | str]:
    """Each variant's attachments in order (one query for a whole batch), or the reason they
    cannot be sent. ``refs_by_variant`` maps a variant id to (workspace id, media refs)."""
    wanted = {int(str(r)) for _, refs in refs_by_variant.values() for r in refs if str(r).isdigit()}
    rows = {}
    if wanted:
        rows = {
            a.id: a
            for a in session.execute(
                select(
                    MediaAsset.id,
                    MediaAsset.workspace_id,
                    MediaAsset.storage_path,
                    MediaAsset.mime_type,
                    MediaAsset.alt_text,
                    MediaAsset.filename,
                    MediaAsset.size_bytes,
                    MediaAsset.sha256,
                ).where(MediaAsset.id.in_(sorted(wanted)))
            )
        }
    out: dict[int, list[MediaFile] | str] = {}
    for variant_id, (workspace_id, refs) in refs_by_variant.items():
        files: list[MediaFile] = []
        for ref in refs:
            text = str(ref).strip()
            row = rows.get(int(text)) if text.isdigit() else None
            if row is None or row.workspace_id != workspace_id:
                out[variant_id] = f"media {text!r} is no longer in this workspace's library"
                break
            files.append(
                MediaFile(
                    row.id,
                    row.storage_path,
                    row.mime_type,
                    row.alt_text,
                    row.filename,
                    row.size_bytes,
                    row.sha256,
                )
            )
        else:
            out[variant_id] = files
    return out


class MediaSource:
    """Reads attachments for the dispatcher: the bytes of one variant when it is sent (with a
    small cache bounded in bytes, since one image often goes to many channels of a batch), and
    a public signed URL for each. Thread-safe."""

    def __init__(
        self,
        data_dir: Path,
        *,
        secret_key: str,
        public_base: str,
        cache_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.data_dir = data_dir
        self.secret_key = secret_key
        self.public_base = public_base
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cached = 0
        self._lock = threading.Lock()

    def read(self, file: MediaFile) -> bytes:
        with self._lock:
            found = self._cache.get(file.sha256)
            if found is not None:
                self._cache.move_to_end(file.sha256)
                return found
        try:
            data = (self.data_dir / file.storage_path).read_bytes()
        except OSError as exc:
            raise MissingMedia(
                f"{file.filename} (media {file.asset_id}) cannot be read: {exc.strerror or exc}"
            ) from None
        if hashlib.sha256(data).hexdigest() != file.sha256:
            raise MissingMedia(f"{file.filename} (media {file.asset_id}) changed on disk")
        if len(data) <= self.cache_bytes // 4:
            with self._lock:
                if file.sha256 not in self._cache:
                    self._cache[file.sha256] = data
                    self._cached += len(data)
                while self._cached > self.cache_bytes and self._cache:
                    _, dropped = self._cache.popitem(last=False)
                    self._cached -= len(dropped)
        return data

    def url(self, file: MediaFile) -> str:
        return public_url(self.public_base, self.secret_key, file.asset_id, file.sha256)

    def media(self, files: Sequence[MediaFile]) -> list[Media]:
        return [
            Media(
                content=self.read(f),
                mime_type=f.mime_type,
                alt_text=f.alt_text,
                filename=f.filename,
                url=self.url(f),
            )
            for f in files
        ]


# --- the library page: where an asset is used, deleting it, per-network checks, thumbnails ---
# (issue #4, publishing pages; appended here so the dispatcher's edits above stay untouched)


@dataclasses.dataclass(frozen=True)
class AssetUsage:
    """The posts and recurring posts that reference an asset (any status)."""

    post_ids: tuple[int, ...]
    recurring_ids: tuple[int, ...]

    @property
    def used(self) -> bool:
        return bool(self.post_ids or self.recurring_ids)


def _refs_in(value: object) -> set[str]:
    return {str(r).strip() for r in value} if isinstance(value, list) else set()


def usage(session: Session, workspace_id: int, asset_ids: Sequence[int]) -> dict[int, AssetUsage]:
    """For each asset id, the posts (any status: a published post keeps its history) and the
    recurring posts whose variants reference it. One query per table for the whole list."""
    from sqlalchemy import String, cast, or_

    from dialogo.publishing.models import PostVariant, RecurringPost

    wanted = {str(i) for i in asset_ids}
    posts: dict[str, set[int]] = {w: set() for w in wanted}
    rules: dict[str, set[int]] = {w: set() for w in wanted}
    if wanted:
        # A cheap textual pre-filter (JSON is stored as text on SQLite and cast on PostgreSQL),
        # confirmed below on the parsed lists.
        like = [cast(PostVariant.media, String).like(f'%"{w}"%') for w in sorted(wanted)]
        for post_id, media in session.execute(
            select(PostVariant.post_id, PostVariant.media).where(
                PostVariant.workspace_id == workspace_id, or_(*like)
            )
        ):
            for ref in _refs_in(media) & wanted:
                posts[ref].add(post_id)
        like = [cast(RecurringPost.variants, String).like(f'%"{w}"%') for w in sorted(wanted)]
        for rule_id, variants in session.execute(
            select(RecurringPost.id, RecurringPost.variants).where(
                RecurringPost.workspace_id == workspace_id, or_(*like)
            )
        ):
            for variant in variants if isinstance(variants, list) else []:
                media = variant.get("media") if isinstance(variant, dict) else None
                for ref in _refs_in(media) & wanted:
                    rules[ref].add(rule_id)
    return {int(w): AssetUsage(tuple(sorted(posts[w])), tuple(sorted(rules[w]))) for w in wanted}


def delete_asset(
    session: Session,
    principal: Principal,
    workspace_id: int,
    asset_id: int,
    *,
    data_dir: Path,
) -> None:
    """Remove an asset no post or recurring post uses (:class:`Conflict` ``media_in_use``
    otherwise, naming them). The file is removed from the disk once the transaction commits
    (a rolled-back delete keeps it), unless another asset row still names the same file."""
    from sqlalchemy import event

    from dialogo.core.errors import Conflict

    authorize(session, principal, workspace_id, Permission.posts_write)
    asset = get_asset(session, principal, workspace_id, asset_id)
    found = usage(session, workspace_id, [asset.id])[asset.id]
    if found.used:
        where = [f"post #{i}" for i in found.post_ids] + [
            f"recurring post #{i}" for i in found.recurring_ids
        ]
        raise Conflict(
            f"{asset.filename} is used by {', '.join(where[:10])}"
            f"{' and more' if len(where) > 10 else ''}; remove it from them first",
            code="media_in_use",
        )
    path = data_dir / asset.storage_path
    shared = session.scalar(
        select(MediaAsset.id).where(
            MediaAsset.storage_path == asset.storage_path, MediaAsset.id != asset.id
        )
    )
    session.delete(asset)
    session.flush()
    if shared is not None:
        return

    def _unlink(_session: Session) -> None:
        from sqlalchemy import inspect

        if inspect(asset).was_deleted:
            path.unlink(missing_ok=True)

    event.listen(session, "after_commit", _unlink, once=True)


@dataclasses.dataclass(frozen=True)
class NetworkCheck:
    network: str
    display_name: str
    issues: tuple[IssueOut, ...]

    @property
    def ok(self) -> bool:
        return not self.issues


def network_checks(
    asset: MediaAsset, networks: Sequence[tuple[str, str, MediaRules]]
) -> list[NetworkCheck]:
    """Whether each network (name, display name, its media rules) would take this one file
    on its own (pure)."""
    return [
        NetworkCheck(name, display, tuple(check([asset], rules, display)))
        for name, display, rules in networks
    ]


THUMBNAIL_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
THUMBNAIL_SIDE = 320


def thumbnail(data: bytes, max_side: int = THUMBNAIL_SIDE) -> tuple[bytes, str]:
    """A small preview of an image (pure): JPEG, or PNG when the image has transparency.
    :class:`InvalidInput` when the bytes cannot be decoded (or would decode to a huge image)."""
    import io
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced size
                image.thumbnail((max_side, max_side))
                alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
                out = io.BytesIO()
                if alpha:
                    image.convert("RGBA").save(out, "PNG", optimize=True)
                    return out.getvalue(), "image/png"
                image.convert("RGB").save(out, "JPEG", quality=80)
                return out.getvalue(), "image/jpeg"
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise InvalidInput("this image cannot be previewed", code="no_preview") from None
