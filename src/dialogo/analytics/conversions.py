"""Conversions (orders with a value) and spend: by signed webhook, tracking pixel, CSV or by hand.

Every path goes through :func:`record_conversion`, idempotent on the order id: sending the
same order twice stores it once. CSV imports are all or nothing: every broken row is reported
with its row number (the header is row 1) and nothing is imported until the file is clean.

Webhook signature: header ``X-Dialogo-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
HMAC-SHA256 of ``"<t>.<raw body>"`` with the workspace's conversion secret; requests more than
:data:`SIGNATURE_TOLERANCE` away from now are refused (replays). The secret is derived from the
server's secret key, the workspace id and the workspace's key *generation*
(:func:`webhook_secret`), so it is never stored; it changes if the server's secret key
changes. :func:`rotate_webhook_secret` moves a workspace to the next generation; the previous
secret keeps being accepted for :data:`ROTATION_GRACE` so the shop can switch over
(:func:`verify_webhook` tries the current secret, then the previous one within the grace).
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import hashlib
import hmac
import io
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.analytics.links import _in_workspace, link_by_code
from dialogo.analytics.models import Conversion, LinkClick, ShortLink, Spend, WebhookKey
from dialogo.analytics.schemas import ConversionIn, ImportReport, SpendIn
from dialogo.channels.models import Channel
from dialogo.core.clock import ensure_aware
from dialogo.core.errors import AuthenticationFailed, InvalidInput, NotFound
from dialogo.publishing.models import Campaign, Post

SIGNATURE_HEADER = "X-Dialogo-Signature"
SIGNATURE_TOLERANCE = dt.timedelta(minutes=5)
MAX_CSV_BYTES = 5 * 1024 * 1024
#: A pixel conversion is credited to the visitor's latest counted click within this time.
PIXEL_LOOKBACK = dt.timedelta(days=1)


ROTATION_GRACE = dt.timedelta(hours=24)


def webhook_secret(secret_key: str, workspace_id: int, generation: int = 0) -> str:
    # Generation 0 is the secret from before rotation existed (unchanged for existing shops).
    message = f"dialogo-conversions:{workspace_id}"
    if generation:
        message += f":{generation}"
    return hmac.new(secret_key.encode(), message.encode(), hashlib.sha256).hexdigest()


def webhook_generation(session: Session, workspace_id: int) -> WebhookKey | None:
    return session.get(WebhookKey, workspace_id)


def current_webhook_secret(session: Session, secret_key: str, workspace_id: int) -> str:
    key = webhook_generation(session, workspace_id)
    return webhook_secret(secret_key, workspace_id, key.generation if key else 0)


def rotate_webhook_secret(
    session: Session, principal: Principal, workspace_id: int, secret_key: str, *, now: dt.datetime
) -> tuple[str, dt.datetime]:
    """A new secret for the workspace; the old one works until the returned time."""
    authorize(session, principal, workspace_id, Permission.workspace_update)
    key = webhook_generation(session, workspace_id)
    if key is None:
        key = WebhookKey(workspace_id=workspace_id, generation=0)
        session.add(key)
    key.generation += 1
    key.rotated_at = now
    key.previous_until = now + ROTATION_GRACE
    session.flush()
    return webhook_secret(secret_key, workspace_id, key.generation), key.previous_until


def verify_webhook(
    session: Session,
    secret_key: str,
    workspace_id: int,
    body: bytes,
    header: str | None,
    *,
    now: dt.datetime,
) -> None:
    """Check a webhook's signature with the current secret, or the previous one during the
    grace period after a rotation."""
    key = webhook_generation(session, workspace_id)
    generation = key.generation if key else 0
    try:
        verify_signature(
            webhook_secret(secret_key, workspace_id, generation), body, header, now=now
        )
        return
    except AuthenticationFailed as exc:
        in_grace = (
            key is not None
            and generation > 0
            and key.previous_until is not None
            and now < ensure_aware(key.previous_until)
        )
        if exc.code != "signature_invalid" or not in_grace:
            raise
    verify_signature(
        webhook_secret(secret_key, workspace_id, generation - 1), body, header, now=now
    )


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str | None, *, now: dt.datetime) -> None:
    if not header:
        raise AuthenticationFailed(f"missing {SIGNATURE_HEADER} header", code="signature_missing")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise AuthenticationFailed("malformed signature header", code="signature_invalid") from None
    if abs(now.timestamp() - timestamp) > SIGNATURE_TOLERANCE.total_seconds():
        raise AuthenticationFailed("the signature is too old or too new", code="signature_expired")
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, given):
        raise AuthenticationFailed("the signature does not match", code="signature_invalid")


def _check_refs(session: Session, workspace_id: int, data: ConversionIn | SpendIn) -> None:
    _in_workspace(session, Campaign, data.campaign_id, workspace_id)
    _in_workspace(session, Channel, data.channel_id, workspace_id)
    _in_workspace(session, Post, data.post_id, workspace_id)


def record_conversion(
    session: Session,
    workspace_id: int,
    data: ConversionIn,
    *,
    source: str,
    now: dt.datetime,
    visitor: str | None = None,
) -> tuple[Conversion, bool]:
    """Store the order (``created`` False when its id was already there)."""
    existing = session.scalar(
        select(Conversion).where(
            Conversion.workspace_id == workspace_id, Conversion.external_id == data.order_id
        )
    )
    if existing is not None:
        return existing, False
    _check_refs(session, workspace_id, data)
    link: ShortLink | None = None
    if data.link:
        link = link_by_code(session, data.link)
        if link.workspace_id != workspace_id:
            raise NotFound("this short link does not exist", code="link_not_found")
    occurred = data.occurred_at or now
    if link is None and visitor is not None:
        link_id = session.scalar(
            select(LinkClick.link_id)
            .where(
                LinkClick.workspace_id == workspace_id,
                LinkClick.visitor == visitor,
                LinkClick.counted.is_(True),
                LinkClick.at <= occurred,
                LinkClick.at > occurred - PIXEL_LOOKBACK,
            )
            .order_by(LinkClick.at.desc())
            .limit(1)
        )
        link = session.get(ShortLink, link_id) if link_id is not None else None
    conversion = Conversion(
        workspace_id=workspace_id,
        source=source,
        external_id=data.order_id,
        occurred_at=occurred,
        value=data.value,
        currency=data.currency,
        link_id=link.id if link else None,
        campaign_id=data.campaign_id or (link.campaign_id if link else None),
        channel_id=data.channel_id or (link.channel_id if link else None),
        post_id=data.post_id or (link.post_id if link else None),
        visitor=visitor,
    )
    session.add(conversion)
    session.flush()
    return conversion, True


def add_conversion(
    session: Session,
    principal: Principal,
    workspace_id: int,
    data: ConversionIn,
    *,
    now: dt.datetime,
) -> Conversion:
    authorize(session, principal, workspace_id, Permission.posts_write)
    return record_conversion(session, workspace_id, data, source="manual", now=now)[0]


def list_conversions(
    session: Session, principal: Principal, workspace_id: int, *, limit: int = 200
) -> list[Conversion]:
    authorize(session, principal, workspace_id, Permission.analytics_read)
    return list(
        session.scalars(
            select(Conversion)
            .where(Conversion.workspace_id == workspace_id)
            .order_by(Conversion.occurred_at.desc())
            .limit(limit)
        )
    )


# -- CSV -------------------------------------------------------------------------------------------


def _read_csv(content: bytes, required: set[str]) -> list[tuple[int, dict[str, str]]]:
    if len(content) > MAX_CSV_BYTES:
        raise InvalidInput("the file is larger than 5 MB", code="csv_too_large")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text", code="csv_encoding") from None
    reader = csv.DictReader(io.StringIO(text))
    header = {h.strip() for h in reader.fieldnames or []}
    missing = sorted(required - header)
    if missing:
        raise InvalidInput(
            f"the header lacks the columns: {', '.join(missing)}",
            code="csv_header",
            missing=missing,
        )
    rows = []
    for row in reader:
        cleaned = {
            (k or "").strip(): (v or "").strip() for k, v in row.items() if not isinstance(v, list)
        }
        if any(cleaned.values()):
            rows.append((reader.line_num, cleaned))
    return rows


def _errors_of(exc: ValidationError, row: int) -> list[dict[str, Any]]:
    return [
        {"row": row, "field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
        for e in exc.errors()
    ]


def _optional_int(value: str) -> int | None:
    return int(value) if value else None


def import_conversions_csv(
    session: Session, principal: Principal, workspace_id: int, content: bytes, *, now: dt.datetime
) -> ImportReport:
    """Columns ``order_id,value`` and optionally ``currency,occurred_at,link,campaign_id,
    channel_id,post_id``."""
    authorize(session, principal, workspace_id, Permission.posts_write)
    rows = _read_csv(content, {"order_id", "value"})
    errors: list[dict[str, Any]] = []
    parsed: list[tuple[int, ConversionIn]] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        try:
            data = ConversionIn(
                order_id=row.get("order_id", ""),
                value=row.get("value", ""),
                currency=row.get("currency") or "EUR",
                occurred_at=row.get("occurred_at") or None,
                link=row.get("link") or None,
                campaign_id=row.get("campaign_id") or None,
                channel_id=row.get("channel_id") or None,
                post_id=row.get("post_id") or None,
            )
        except ValidationError as exc:
            errors.extend(_errors_of(exc, line))
            continue
        if data.order_id in seen:
            errors.append(
                {"row": line, "field": "order_id", "message": f"repeats row {seen[data.order_id]}"}
            )
            continue
        seen[data.order_id] = line
        try:
            _check_refs(session, workspace_id, data)
            if data.link:
                link = link_by_code(session, data.link)
                if link.workspace_id != workspace_id:
                    raise NotFound("this short link does not exist")
        except NotFound as exc:
            errors.append({"row": line, "field": "reference", "message": exc.message})
            continue
        parsed.append((line, data))
    if errors:
        raise InvalidInput(
            f"{len({e['row'] for e in errors})} rows are broken; nothing was imported",
            code="csv_rows_invalid",
            errors=errors,
        )
    if not parsed:
        raise InvalidInput("the file has no rows", code="csv_empty")
    imported = skipped = 0
    for _, data in parsed:
        _, created = record_conversion(session, workspace_id, data, source="csv", now=now)
        imported += created
        skipped += not created
    return ImportReport(imported=imported, skipped_existing=skipped)


# -- spend -----------------------------------------------------------------------------------------


def add_spend(
    session: Session,
    principal: Principal,
    workspace_id: int,
    data: SpendIn,
    *,
    source: str = "manual",
) -> Spend:
    authorize(session, principal, workspace_id, Permission.posts_write)
    _check_refs(session, workspace_id, data)
    row = Spend(workspace_id=workspace_id, source=source, **data.model_dump())
    session.add(row)
    session.flush()
    return row


def list_spend(session: Session, principal: Principal, workspace_id: int) -> list[Spend]:
    authorize(session, principal, workspace_id, Permission.analytics_read)
    return list(
        session.scalars(
            select(Spend).where(Spend.workspace_id == workspace_id).order_by(Spend.day, Spend.id)
        )
    )


def import_spend_csv(
    session: Session, principal: Principal, workspace_id: int, content: bytes
) -> ImportReport:
    """Columns ``day,amount`` and optionally ``currency,campaign_id,channel_id,post_id,note``."""
    authorize(session, principal, workspace_id, Permission.posts_write)
    rows = _read_csv(content, {"day", "amount"})
    errors: list[dict[str, Any]] = []
    parsed: list[SpendIn] = []
    for line, row in rows:
        try:
            data = SpendIn(
                day=row.get("day", ""),
                amount=row.get("amount", ""),
                currency=row.get("currency") or "EUR",
                campaign_id=row.get("campaign_id") or None,
                channel_id=row.get("channel_id") or None,
                post_id=row.get("post_id") or None,
                note=row.get("note", ""),
            )
            _check_refs(session, workspace_id, data)
        except ValidationError as exc:
            errors.extend(_errors_of(exc, line))
            continue
        except NotFound as exc:
            errors.append({"row": line, "field": "reference", "message": exc.message})
            continue
        parsed.append(data)
    if errors:
        raise InvalidInput(
            f"{len({e['row'] for e in errors})} rows are broken; nothing was imported",
            code="csv_rows_invalid",
            errors=errors,
        )
    if not parsed:
        raise InvalidInput("the file has no rows", code="csv_empty")
    for data in parsed:
        session.add(Spend(workspace_id=workspace_id, source="csv", **data.model_dump()))
    session.flush()
    return ImportReport(imported=len(parsed))


def total(values: list[decimal.Decimal]) -> decimal.Decimal:
    return sum(values, decimal.Decimal(0))
