"""Bulk import of posts from CSV or JSON: every row validated, every error reported with its
row number, and nothing half-imported.

A file is a table of rows (CSV with a header line, or a JSON array of objects) with the columns

=================  ===========================================================================
``channel``        required: a channel's id, name or account handle; several separated by ``|``
                   (JSON: also a number or a list)
``text``           required: the post's text, checked by each channel's network rules
``scheduled_at``   optional: ``2027-01-31 09:30`` (the workspace's time zone) or ISO 8601 with
                   an offset; empty leaves the post a draft
``campaign``       optional: an existing campaign's name (or id)
``first_comment``  optional
=================  ===========================================================================

Rows are numbered from 1 (the first data row; a CSV's header is not a row). Errors about the
whole file (encoding, columns, size) have row 0. Every row is checked before anything is
written; with any error nothing is written, and :class:`ImportRejected` lists them all. The
writes happen in the caller's unit of work (one transaction: all or nothing).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.core.clock import utcnow
from dialogo.core.errors import InvalidInput
from dialogo.providers.registry import ProviderRegistry
from dialogo.publishing import service as publishing
from dialogo.publishing import webhooks  # noqa: F401 - installs the post-event hook
from dialogo.publishing.models import Campaign, PostVariant
from dialogo.publishing.recurrence import resolve_local, workspace_zone
from dialogo.publishing.schemas import MAX_TEXT, PostCreate, VariantIn

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
COLUMNS = ("channel", "text", "scheduled_at", "campaign", "first_comment")
REQUIRED = ("channel", "text")
FORMATS = ("csv", "json")


class RowError(BaseModel):
    row: int  # 1 = the first data row; 0 = the whole file
    field: str
    code: str
    message: str


class ImportReport(BaseModel):
    dry_run: bool
    rows: int
    posts: int
    scheduled: int
    post_ids: list[int]


class ImportRejected(InvalidInput):
    code = "import_rejected"

    def __init__(self, errors: Sequence[RowError]) -> None:
        rows = sorted({e.row for e in errors})
        where = "the file" if rows == [0] else f"{len(rows)} row(s)"
        first = errors[0]
        super().__init__(
            f"nothing was imported: {len(errors)} error(s) in {where}; first: "
            f"row {first.row}, {first.field}: {first.message}",
            errors=[e.model_dump() for e in errors],
        )
        self.errors = list(errors)


@dataclasses.dataclass
class _Row:
    number: int
    channels: list[Channel]
    text: str
    first_comment: str | None
    scheduled_at: dt.datetime | None
    campaign_id: int | None


def detect_format(filename: str | None, content_type: str | None) -> str:
    name = (filename or "").lower()
    ctype = (content_type or "").lower()
    if name.endswith(".json") or "json" in ctype:
        return "json"
    if name.endswith((".csv", ".txt")) or "csv" in ctype or "text/plain" in ctype:
        return "csv"
    raise InvalidInput(
        "say whether the file is CSV or JSON (a .csv or .json name, or the format)",
        code="unknown_format",
    )


def parse(data: bytes, fmt: str) -> list[dict[str, Any]]:
    """The file's records as dictionaries, or :class:`ImportRejected` for file-level errors."""
    if fmt not in FORMATS:
        raise InvalidInput(f"format is one of {', '.join(FORMATS)}", code="unknown_format")
    if len(data) > MAX_BYTES:
        raise ImportRejected(
            [_file_error("too_large", f"the file is over {MAX_BYTES // (1024 * 1024)} MB")]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected(
            [
                _file_error(
                    "bad_encoding",
                    f"the file is not UTF-8 (byte {exc.start}); save it as UTF-8 and retry",
                )
            ]
        ) from None
    records = _parse_csv(text) if fmt == "csv" else _parse_json(text)
    if not records:
        raise ImportRejected([_file_error("empty", "the file has no rows")])
    if len(records) > MAX_ROWS:
        raise ImportRejected([_file_error("too_many_rows", f"at most {MAX_ROWS} rows per file")])
    return records


def _file_error(code: str, message: str, field: str = "file") -> RowError:
    return RowError(row=0, field=field, code=code, message=message)


def _parse_csv(text: str) -> list[dict[str, Any]]:
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:4096], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    try:
        header = [h.strip().lower() for h in reader.fieldnames or []]
        _check_columns(header)
        reader.fieldnames = header
        rows = []
        for record in reader:
            if None in record:  # more cells than the header has columns
                raise ImportRejected(
                    [
                        RowError(
                            row=reader.line_num - 1,
                            field="file",
                            code="extra_cells",
                            message="this row has more cells than the header has columns",
                        )
                    ]
                )
            rows.append(dict(record))
        return rows
    except csv.Error as exc:
        raise ImportRejected([_file_error("bad_csv", f"not valid CSV: {exc}")]) from None


def _parse_json(text: str) -> list[dict[str, Any]]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportRejected(
            [_file_error("bad_json", f"not valid JSON: {exc.msg} at line {exc.lineno}")]
        ) from None
    if isinstance(value, dict) and isinstance(value.get("posts"), list):
        value = value["posts"]
    if not isinstance(value, list):
        raise ImportRejected(
            [_file_error("bad_json", 'expected an array of posts (or {"posts": [...]})')]
        )
    errors = [
        RowError(row=i, field="row", code="not_an_object", message="each post is an object")
        for i, item in enumerate(value, start=1)
        if not isinstance(item, dict)
    ]
    if errors:
        raise ImportRejected(errors)
    keys = sorted({k.lower() for item in value for k in item})
    _check_columns(keys, require=False)
    return [{k.lower(): v for k, v in item.items()} for item in value]


def _check_columns(header: Sequence[str], *, require: bool = True) -> None:
    errors = [
        _file_error("unknown_column", f"unknown column {h!r}; the columns are {', '.join(COLUMNS)}")
        for h in header
        if h not in COLUMNS
    ]
    if require:
        errors += [
            _file_error("missing_column", f"the column {c!r} is required", field=c)
            for c in REQUIRED
            if c not in header
        ]
    if errors:
        raise ImportRejected(errors)


def parse_when(value: str, tz: ZoneInfo) -> dt.datetime:
    """``YYYY-MM-DD HH:MM`` in ``tz`` (DST resolved as for recurring posts) or ISO with an
    offset; the UTC instant."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date and time like 2027-01-31 09:30 (or ISO 8601)"
        ) from None
    if parsed.tzinfo is None:
        return resolve_local(parsed.date(), parsed.time(), tz)
    return parsed.astimezone(dt.UTC)


class _Resolver:
    def __init__(self, session: Session, workspace_id: int) -> None:
        self.channels = list(
            session.scalars(select(Channel).where(Channel.workspace_id == workspace_id))
        )
        self.campaigns = list(
            session.scalars(select(Campaign).where(Campaign.workspace_id == workspace_id))
        )

    def channel(self, ref: str) -> Channel:
        ref = ref.strip()
        if ref.isdigit():
            found = [c for c in self.channels if c.id == int(ref)]
        else:
            low = ref.lower().lstrip("@")
            found = [
                c
                for c in self.channels
                if c.name.lower() == ref.lower() or c.account_handle.lower().lstrip("@") == low
            ]
        if not found:
            raise ValueError(f"no channel {ref!r} in this workspace")
        if len(found) > 1:
            raise ValueError(f"{ref!r} names {len(found)} channels; use the channel's id")
        return found[0]

    def campaign(self, ref: str) -> int:
        ref = ref.strip()
        found = [c for c in self.campaigns if c.name == ref or (ref.isdigit() and c.id == int(ref))]
        if not found:
            raise ValueError(f"no campaign {ref!r}; create it first")
        return found[0].id


def _cell(record: dict[str, Any], key: str) -> Any:
    value = record.get(key)
    return value.strip() if isinstance(value, str) else value


def _channel_refs(value: Any) -> list[str]:
    if isinstance(value, bool):
        raise ValueError("a channel is an id, a name or a handle")
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, list):
        return [r for v in value for r in _channel_refs(v)]
    if isinstance(value, str):
        return [part.strip() for part in value.split("|") if part.strip()]
    raise ValueError("a channel is an id, a name or a handle")


def validate_rows(
    session: Session,
    workspace_id: int,
    records: Sequence[dict[str, Any]],
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
    now: dt.datetime | None = None,
) -> tuple[list[_Row], list[RowError]]:
    now = now or utcnow()
    tz = workspace_zone(session, workspace_id)
    needs_approval = publishing.publishing_settings(session, workspace_id).approval_required
    resolve = _Resolver(session, workspace_id)
    rows: list[_Row] = []
    errors: list[RowError] = []
    for number, record in enumerate(records, start=1):
        problems: list[RowError] = []

        def problem(
            field: str,
            code: str,
            message: str,
            number: int = number,
            problems: list[RowError] = problems,
        ) -> None:
            problems.append(RowError(row=number, field=field, code=code, message=message))

        channels: list[Channel] = []
        try:
            refs = _channel_refs(_cell(record, "channel"))
            if not refs:
                problem("channel", "required", "name at least one channel")
            for ref in refs:
                channel = resolve.channel(ref)
                if channel in channels:
                    raise ValueError(f"channel {ref!r} is named twice")
                channels.append(channel)
        except ValueError as exc:
            problem("channel", "unknown_channel", str(exc))
        text = _cell(record, "text")
        if not isinstance(text, str) or not text:
            problem("text", "required", "the text is empty")
            text = ""
        elif len(text) > MAX_TEXT:
            problem("text", "too_long", f"over {MAX_TEXT} characters")
        first_comment = _cell(record, "first_comment") or None
        if first_comment is not None and not isinstance(first_comment, str):
            problem("first_comment", "bad_value", "the first comment is text")
            first_comment = None
        scheduled_at = None
        when = _cell(record, "scheduled_at")
        if when:
            try:
                if not isinstance(when, str):
                    raise ValueError("scheduled_at is a date and time as text")
                scheduled_at = parse_when(when, tz)
                if scheduled_at <= now:
                    problem("scheduled_at", "in_the_past", f"{when} is in the past")
                elif needs_approval:
                    problem(
                        "scheduled_at",
                        "approval_required",
                        "this workspace approves posts before scheduling: leave scheduled_at "
                        "empty to import drafts",
                    )
            except ValueError as exc:
                problem("scheduled_at", "bad_datetime", str(exc))
        campaign_id = None
        campaign = _cell(record, "campaign")
        if campaign not in (None, ""):
            try:
                campaign_id = resolve.campaign(str(campaign))
            except ValueError as exc:
                problem("campaign", "unknown_campaign", str(exc))
        if text and not problems:
            for channel in channels:
                probe = PostVariant(
                    workspace_id=workspace_id,
                    channel_id=channel.id,
                    network=channel.network,
                    text=text,
                    media=[],
                    thread=[],
                    first_comment=first_comment,
                    idempotency_key="import-probe",
                )
                for issue in publishing._variant_issues(
                    session, probe, registry=registry, cipher=cipher, http=http
                ):
                    problem(
                        issue.field if issue.field != "channel" else "channel",
                        issue.code,
                        f"{channel.name}: {issue.message}",
                    )
        errors += problems
        if not problems:
            rows.append(_Row(number, channels, text, first_comment, scheduled_at, campaign_id))
    return rows, errors


def import_posts(
    session: Session,
    principal: Principal,
    workspace_id: int,
    data: bytes,
    fmt: str,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Check every row, then (unless ``dry_run``) create the posts and schedule those with a
    time, in the caller's transaction. Any error: :class:`ImportRejected`, nothing written."""
    authorize(session, principal, workspace_id, Permission.posts_write)
    records = parse(data, fmt)
    now = now or utcnow()
    rows, errors = validate_rows(
        session, workspace_id, records, registry=registry, cipher=cipher, http=http, now=now
    )
    if any(r.scheduled_at is not None for r in rows):
        authorize(session, principal, workspace_id, Permission.posts_publish)
    if errors:
        raise ImportRejected(errors)
    scheduled = sum(1 for r in rows if r.scheduled_at is not None)
    if dry_run:
        return ImportReport(
            dry_run=True, rows=len(records), posts=len(rows), scheduled=scheduled, post_ids=[]
        )
    ids = []
    for row in rows:
        post = publishing.create_post(
            session,
            principal,
            workspace_id,
            PostCreate(
                campaign_id=row.campaign_id,
                variants=[
                    VariantIn(channel_id=c.id, text=row.text, first_comment=row.first_comment)
                    for c in row.channels
                ],
            ),
        )
        if row.scheduled_at is not None:
            publishing.schedule_post(
                session,
                principal,
                workspace_id,
                post.id,
                row.scheduled_at,
                registry=registry,
                cipher=cipher,
                http=http,
                now=now,
            )
        ids.append(post.id)
    return ImportReport(
        dry_run=False, rows=len(records), posts=len(ids), scheduled=scheduled, post_ids=ids
    )
