"""Public, signed media links: ``GET /m/<token>`` serves a media library file to whoever holds
a valid token, with no session. The dispatcher puts these links in the drafts it sends, for
networks that fetch media themselves (Instagram reads ``image_url``/``video_url``).

The token (``dialogo.publishing.media.public_token``) is signed with the secret key and
expires after ``PUBLIC_URL_TTL``; a forged, altered or expired token is a 404, and a file
missing on disk is a 404 too (never a 500 that would leak a path).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from dialogo.api.deps import Ctx, Db
from dialogo.core.errors import NotFound
from dialogo.publishing import media

router = APIRouter()


@router.get(media.PUBLIC_PATH + "{token}")
def public_media(token: str, ctx: Ctx, db: Db) -> Response:
    asset = media.public_asset(db, ctx.settings.secret_key.get_secret_value(), token)
    path = ctx.settings.data_dir / asset.storage_path
    if not path.is_file():
        raise NotFound("media not found")
    return FileResponse(
        path,
        media_type=asset.mime_type,
        filename=asset.filename,
        content_disposition_type="inline",
        headers={
            "cache-control": "private, max-age=3600",
            "x-content-type-options": "nosniff",
        },
    )
