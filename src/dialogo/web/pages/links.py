"""The public side of measurement: short links (``/l/<code>``) and the conversion pixel
(``/l/<code>/px.gif?order=…&value=…&currency=…``). No sign-in; nothing personal is stored
(see :mod:`dialogo.analytics.links`)."""

from __future__ import annotations

import base64
import decimal

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from dialogo.analytics import conversions, links
from dialogo.analytics.schemas import ConversionIn
from dialogo.api.deps import Ctx, Db
from dialogo.core.errors import InvalidInput

router = APIRouter()
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/l/{code}")
def follow(code: str, request: Request, session: Db, ctx: Ctx) -> Response:
    link = links.record_click(
        session,
        code,
        address=_address(request),
        user_agent=request.headers.get("user-agent", ""),
        now=ctx.clock.now(),
    )
    return RedirectResponse(link.destination, status_code=302, headers=NO_STORE)


@router.get("/l/{code}/px.gif")
def pixel(
    code: str,
    request: Request,
    session: Db,
    ctx: Ctx,
    order: str = "",
    value: str = "0",
    currency: str = "EUR",
) -> Response:
    """A conversion reported by the shop's thank-you page; credited to this link, or to the
    visitor's last click today."""
    link = links.link_by_code(session, code)
    now = ctx.clock.now()
    visitor = links.visitor_id(
        session, link.workspace_id, _address(request), request.headers.get("user-agent", ""), now
    )
    try:
        data = ConversionIn(
            order_id=order, value=decimal.Decimal(value), currency=currency, link=code
        )
    except (ValidationError, decimal.InvalidOperation):
        raise InvalidInput(
            "the pixel needs order= and a numeric value=", code="invalid_pixel"
        ) from None
    conversions.record_conversion(
        session, link.workspace_id, data, source="pixel", now=now, visitor=visitor
    )
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)
