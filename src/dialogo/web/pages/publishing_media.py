"""Publishing pages for the media library and the bulk import (issue #4).

* **Media library**: upload (multipart; the type is read from the file's bytes by the engine),
  a thumbnail for each image, alt text, which of the workspace's networks would take each file
  (``media.check`` with each provider's rules), and deleting a file no post uses.
* **Bulk import**: a CSV or JSON file (or rows pasted in), a dry run listing every error with
  its row number, then the import, all or nothing (``dialogo.publishing.imports``). After a
  clean dry run the checked content travels in the form (base64), so "Import" needs no second
  upload, and it is checked again in full before anything is written.

Every form works without JavaScript.
"""

from __future__ import annotations

import base64
import binascii
import csv
import datetime as dt
import functools
import io
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from dialogo.accounts.permissions import Permission
from dialogo.core.errors import DomainError, InvalidInput, NotFound
from dialogo.core.i18n import N_
from dialogo.providers.base import MediaRules
from dialogo.publishing import imports
from dialogo.publishing import media as media_library
from dialogo.publishing.calendar import zone as media_tz
from dialogo.publishing.models import MediaAsset
from dialogo.web.cookies import Flash
from dialogo.web.forms import read_form, text, upload
from dialogo.web.pages.publishing import channel_choices, cipher, refusal
from dialogo.web.shell import CurrentViewer, FormViewer, Viewer

router = APIRouter()

#: The largest upload the page reads (the engine's limit; tests lower it).
UPLOAD_LIMIT = media_library.MAX_UPLOAD_BYTES

MEDIA_ERRORS = {
    "empty_file": N_("The file is empty."),
    "unsupported_media_type": N_(
        "This file is not an image or a video Dialogo can post: use JPEG, PNG, GIF, WebP, "
        "MP4 or MOV."
    ),
    "unreadable_video": N_(
        "The length of this video cannot be read (its MP4 header is missing or cut short): "
        "export it again as a complete MP4 or MOV file."
    ),
    "alt_too_long": N_("Alt text is at most 5,000 characters."),
    "media_in_use": N_("This file is used by a post; remove it from the post first."),
}


def _media_error(viewer: Viewer, exc: DomainError) -> str:
    if exc.code == "file_too_large":
        return viewer.gettext("The file is too large: the limit is %(mb)s MB.") % {
            "mb": max(1, UPLOAD_LIMIT // (1024 * 1024))
        }
    msgid = MEDIA_ERRORS.get(exc.code or "")
    return viewer.gettext(msgid) if msgid else refusal(viewer, exc)


def _too_large(viewer: Viewer) -> str:
    return _media_error(viewer, InvalidInput("too large", code="file_too_large"))


def _redirect(viewer: Viewer, url: str, level: str, text_: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    viewer.flash(response, level, text_)
    return response


# --- the media library ---------------------------------------------------------------------------


def _networks(viewer: Viewer, workspace_id: int) -> list[tuple[str, str, MediaRules]]:
    """The publishing networks of the workspace's channels (all installed ones if none)."""
    registry = viewer.ctx.providers
    names = sorted({c.channel.network for c in channel_choices(viewer, workspace_id)})
    if not names:
        names = registry.names()
    found = []
    for name in names:
        if name not in registry:
            continue
        caps = registry.get(name).capabilities
        if caps.publishes:
            found.append((name, caps.display_name, caps.media))
    return found


def _media_page(
    viewer: Viewer,
    workspace_id: int,
    *,
    error: str | None = None,
    alt_text: str = "",
    message: Flash | None = None,
    status: int = 200,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.posts_read)
    assets = media_library.list_assets(viewer.session, viewer.principal, workspace_id)
    networks = _networks(viewer, workspace_id)
    return viewer.render(
        "publishing_media.html",
        active="publishing",
        workspace=workspace,
        role=role,
        assets=assets,
        checks={a.id: media_library.network_checks(a, networks) for a in assets},
        usage=media_library.usage(viewer.session, workspace_id, [a.id for a in assets]),
        previewable=media_library.THUMBNAIL_TYPES,
        error=error,
        alt_text=alt_text,
        limit_mb=max(1, UPLOAD_LIMIT // (1024 * 1024)),
        alt_max=media_library.ALT_TEXT_MAX,
        message=message,
        can_write=viewer.can(role, Permission.posts_write),
        status=status,
    )


def _media_url(workspace_id: int, asset_id: int | None = None) -> str:
    base = f"/w/{workspace_id}/publishing/media"
    return base if asset_id is None else f"{base}#media-{asset_id}"


@router.get("/w/{workspace_id}/publishing/media")
def media_page(workspace_id: int, viewer: CurrentViewer) -> Response:
    return _media_page(viewer, workspace_id)


@router.post("/w/{workspace_id}/publishing/media")
async def upload_media(workspace_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.posts_write)
    form = await read_form(viewer.request)
    alt_text = text(form, "alt_text")
    file = upload(form, "file")
    if file is None:
        return _media_page(
            viewer,
            workspace_id,
            error=viewer.gettext("Choose a file to upload."),
            alt_text=alt_text,
            status=422,
        )
    data = await file.read(UPLOAD_LIMIT + 1)
    if len(data) > UPLOAD_LIMIT:
        return _media_page(
            viewer, workspace_id, error=_too_large(viewer), alt_text=alt_text, status=413
        )
    try:
        asset = await run_in_threadpool(
            media_library.upload,
            viewer.session,
            viewer.principal,
            workspace_id,
            data,
            filename=file.filename,
            data_dir=viewer.ctx.settings.data_dir,
            alt_text=alt_text,
            max_bytes=UPLOAD_LIMIT,
        )
    except DomainError as exc:
        viewer.session.rollback()
        return _media_page(
            viewer,
            workspace_id,
            error=_media_error(viewer, exc),
            alt_text=alt_text,
            status=exc.status,
        )
    return _redirect(
        viewer,
        _media_url(workspace_id, asset.id),
        "success",
        viewer.gettext("%(name)s is in the library.") % {"name": asset.filename},
    )


def _asset_file_headers(asset: MediaAsset) -> dict[str, str]:
    return {
        "Cache-Control": "private, max-age=300",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Content-Disposition": f"inline; filename*=UTF-8''{_quote(asset.filename)}",
    }


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


@router.get("/w/{workspace_id}/publishing/media/{asset_id}/file")
def media_file(workspace_id: int, asset_id: int, viewer: CurrentViewer) -> Response:
    asset = media_library.get_asset(viewer.session, viewer.principal, workspace_id, asset_id)
    try:
        data = media_library.content(asset, viewer.ctx.settings.data_dir)
    except OSError:
        raise NotFound("the file is missing from the disk") from None
    return Response(data, media_type=asset.mime_type, headers=_asset_file_headers(asset))


@functools.lru_cache(maxsize=256)
def _cached_thumbnail(path: str, sha256: str) -> tuple[bytes, str]:
    # Keyed by the content hash too: the same path always holds the same bytes.
    with open(path, "rb") as handle:
        return media_library.thumbnail(handle.read())


@router.get("/w/{workspace_id}/publishing/media/{asset_id}/thumbnail")
def media_thumbnail(workspace_id: int, asset_id: int, viewer: CurrentViewer) -> Response:
    asset = media_library.get_asset(viewer.session, viewer.principal, workspace_id, asset_id)
    if asset.mime_type not in media_library.THUMBNAIL_TYPES:
        raise NotFound("no preview for this kind of file")
    path = viewer.ctx.settings.data_dir / asset.storage_path
    try:
        data, mime = _cached_thumbnail(str(path), asset.sha256)
    except OSError:
        raise NotFound("the file is missing from the disk") from None
    except InvalidInput:
        raise NotFound("this image cannot be previewed") from None
    return Response(data, media_type=mime, headers=_asset_file_headers(asset))


@router.post("/w/{workspace_id}/publishing/media/{asset_id}/alt")
async def media_alt_text(workspace_id: int, asset_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.posts_write)
    form = await read_form(viewer.request)
    url = _media_url(workspace_id, asset_id)
    try:
        asset = media_library.set_alt_text(
            viewer.session, viewer.principal, workspace_id, asset_id, text(form, "alt_text")
        )
    except DomainError as exc:
        viewer.session.rollback()
        return _redirect(viewer, url, "error", _media_error(viewer, exc))
    return _redirect(
        viewer,
        url,
        "success",
        viewer.gettext("Alt text of %(name)s saved.") % {"name": asset.filename},
    )


@router.post("/w/{workspace_id}/publishing/media/{asset_id}/delete")
def media_delete(workspace_id: int, asset_id: int, viewer: FormViewer) -> Response:
    viewer.workspace(workspace_id, Permission.posts_write)
    try:
        asset = media_library.get_asset(viewer.session, viewer.principal, workspace_id, asset_id)
        name = asset.filename
        media_library.delete_asset(
            viewer.session,
            viewer.principal,
            workspace_id,
            asset_id,
            data_dir=viewer.ctx.settings.data_dir,
        )
    except DomainError as exc:
        viewer.session.rollback()
        return _redirect(
            viewer, _media_url(workspace_id, asset_id), "error", _media_error(viewer, exc)
        )
    return _redirect(
        viewer,
        _media_url(workspace_id),
        "success",
        viewer.gettext("%(name)s was removed from the library.") % {"name": name},
    )


# --- bulk import ---------------------------------------------------------------------------------

FIELD_LABELS = {
    "file": N_("the file"),
    "row": N_("the row"),
    "channel": N_("channel"),
    "text": N_("text"),
    "scheduled_at": N_("scheduled_at"),
    "campaign": N_("campaign"),
    "first_comment": N_("first_comment"),
    "media": N_("media"),
}
FORMAT_CHOICES = ("", "csv", "json")


def _import_page(
    viewer: Viewer,
    workspace_id: int,
    *,
    errors: list[imports.RowError] | None = None,
    report: imports.ImportReport | None = None,
    carried: str = "",
    fmt: str = "",
    pasted: str = "",
    filename: str = "",
    message: Flash | None = None,
    status: int = 200,
) -> Response:
    workspace, role = viewer.workspace(workspace_id, Permission.posts_read)
    return viewer.render(
        "publishing_import.html",
        active="publishing",
        workspace=workspace,
        role=role,
        errors=errors,
        report=report,
        carried=carried,
        fmt=fmt,
        pasted=pasted,
        filename=filename,
        columns=imports.COLUMNS,
        field_labels=FIELD_LABELS,
        max_rows=imports.MAX_ROWS,
        max_mb=imports.MAX_BYTES // (1024 * 1024),
        message=message,
        can_write=viewer.can(role, Permission.posts_write),
        status=status,
    )


@router.get("/w/{workspace_id}/publishing/import")
def import_page(workspace_id: int, viewer: CurrentViewer) -> Response:
    return _import_page(viewer, workspace_id)


@router.post("/w/{workspace_id}/publishing/import")
async def import_run(workspace_id: int, viewer: FormViewer) -> Response:
    """``action=check``: the dry run; ``action=import``: write the posts (all or none)."""
    viewer.workspace(workspace_id, Permission.posts_write)
    form = await read_form(viewer.request)
    action = "import" if text(form, "action") == "import" else "check"
    fmt = text(form, "format")
    fmt = fmt if fmt in FORMAT_CHOICES else ""
    pasted = text(form, "pasted", strip=False).replace("\r\n", "\n")
    file = upload(form, "file")
    filename = ""
    data: bytes
    if file is not None:
        filename = file.filename or ""
        data = await file.read(imports.MAX_BYTES + 1)
        content_type = file.content_type
    elif pasted.strip():
        data = pasted.encode("utf-8")
        content_type = None
    elif text(form, "carried"):
        try:
            data = base64.b64decode(text(form, "carried"), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        filename = text(form, "filename")
        content_type = None
    else:
        return _import_page(
            viewer,
            workspace_id,
            fmt=fmt,
            message=Flash("error", viewer.gettext("Choose a CSV or JSON file, or paste rows.")),
            status=422,
        )
    keep: dict[str, Any] = {"fmt": fmt, "pasted": pasted if file is None else ""}
    try:
        chosen = fmt or (
            imports.detect_format(filename, content_type)
            if filename or content_type
            else _guess(data)
        )
    except DomainError:
        return _import_page(
            viewer,
            workspace_id,
            **keep,
            message=Flash(
                "error",
                viewer.gettext("Say whether the file is CSV or JSON (choose the format)."),
            ),
            status=422,
        )
    try:
        report = await run_in_threadpool(
            imports.import_posts,
            viewer.session,
            viewer.principal,
            workspace_id,
            data,
            chosen,
            registry=viewer.ctx.providers,
            cipher=cipher(viewer),
            dry_run=action == "check",
            now=viewer.ctx.clock.now(),
        )
    except imports.ImportRejected as exc:
        viewer.session.rollback()
        return _import_page(
            viewer,
            workspace_id,
            **keep,
            filename=filename,
            errors=exc.errors,
            message=Flash(
                "error",
                viewer.tr.ngettext(
                    "Nothing was imported: %(num)d error; fix it and check again.",
                    "Nothing was imported: %(num)d errors; fix them and check again.",
                    len(exc.errors),
                )
                % {"num": len(exc.errors)},
            ),
            status=422,
        )
    except DomainError as exc:
        viewer.session.rollback()
        return _import_page(
            viewer,
            workspace_id,
            **keep,
            message=Flash("error", refusal(viewer, exc)),
            status=exc.status,
        )
    if report.dry_run:
        return _import_page(
            viewer,
            workspace_id,
            fmt=chosen,
            filename=filename,
            report=report,
            carried=base64.b64encode(data).decode(),
            message=Flash(
                "success",
                viewer.tr.ngettext(
                    "All %(num)d row is valid: nothing is written until you import.",
                    "All %(num)d rows are valid: nothing is written until you import.",
                    report.rows,
                )
                % {"num": report.rows},
            ),
        )
    return _redirect(
        viewer,
        f"/w/{workspace_id}/publishing",
        "success",
        viewer.tr.ngettext(
            "%(num)d post imported (%(scheduled)d scheduled, the others are drafts).",
            "%(num)d posts imported (%(scheduled)d scheduled, the others are drafts).",
            report.posts,
        )
        % {"num": report.posts, "scheduled": report.scheduled},
    )


def _guess(data: bytes) -> str:
    """Pasted rows: JSON when they start like JSON, else CSV."""
    return "json" if data.lstrip()[:1] in (b"[", b"{") else "csv"


@router.get("/w/{workspace_id}/publishing/import/example.csv")
def import_example(workspace_id: int, viewer: CurrentViewer) -> Response:
    """A CSV to start from, naming this workspace's own channels."""
    workspace, _ = viewer.workspace(workspace_id, Permission.posts_read)
    names = [c.channel.name for c in channel_choices(viewer, workspace_id) if c.publishes]
    first = names[0] if names else "My channel"
    both = "|".join(names[:2]) if len(names) > 1 else first
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(imports.COLUMNS)
    writer.writerow([first, "A draft: finish me", "", "", ""])
    zone = media_tz(workspace.timezone)
    when = (viewer.ctx.clock.now().astimezone(zone) + dt.timedelta(days=30)).date()
    writer.writerow([both, "New autumn blend!", f"{when} 09:30", "", "Link in bio"])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="dialogo-import-example.csv"',
            "X-Content-Type-Options": "nosniff",
        },
    )
