"""The dashboard's tables as CSV and XLSX (openpyxl), and a rendered HTML report as PDF
(WeasyPrint). Tables are lists of rows under a header; values keep their types in XLSX (numbers
stay numbers) and are written plainly in CSV (UTF-8, comma separated, with a header row)."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Sequence
from typing import Any

from dialogo.analytics.schemas import Dashboard
from dialogo.core.errors import InvalidInput

TABLES = ("daily", "top_posts", "campaigns")


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    header: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def dashboard_tables(board: Dashboard) -> dict[str, Table]:
    return {
        "daily": Table(
            "daily",
            ("day", "impressions", "reach", "engagements", "clicks"),
            [(p.day, p.impressions, p.reach, p.engagements, p.clicks) for p in board.daily],
        ),
        "top_posts": Table(
            "top_posts",
            (
                "variant_id",
                "post_id",
                "network",
                "published_at",
                "text",
                "impressions",
                "reach",
                "engagements",
                "engagement_rate_reach",
                "engagement_rate_followers",
            ),
            [
                (
                    p.variant_id,
                    p.post_id,
                    p.network,
                    p.published_at,
                    p.text,
                    p.impressions,
                    p.reach,
                    p.engagements,
                    p.engagement_rate_reach,
                    p.engagement_rate_followers,
                )
                for p in board.top_posts
            ],
        ),
        "campaigns": Table(
            "campaigns",
            (
                "campaign_id",
                "name",
                "spend",
                "revenue",
                "conversions",
                "clicks",
                "roi",
                "roas",
                "cpa",
            ),
            [
                (c.id, c.name, c.spend, c.revenue, c.conversions, c.clicks, c.roi, c.roas, c.cpa)
                for c in board.campaigns
            ],
        ),
    }


def pick(board: Dashboard, name: str) -> Table:
    if name not in TABLES:
        raise InvalidInput(f"unknown table {name!r}; use one of {list(TABLES)}", code="bad_table")
    return dashboard_tables(board)[name]


def _plain(value: Any) -> Any:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _safe(value: Any) -> Any:
    """Cells starting like a formula are quoted (CSV/XLSX injection): post texts are
    written by anyone."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow([_safe(_plain(v)) for v in row])
    return out.getvalue().encode("utf-8")


def to_xlsx(tables: Sequence[Table]) -> bytes:
    from openpyxl import Workbook  # type: ignore[import-untyped]

    book = Workbook()
    first = True
    for table in tables:
        sheet = book.active if first else book.create_sheet()
        assert sheet is not None
        first = False
        sheet.title = table.name[:31]
        sheet.append(list(table.header))
        for row in table.rows:
            cells = []
            for value in row:
                if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
                    value = value.replace(tzinfo=None)  # Excel has no time zones: UTC
                cells.append(_safe(value))
            sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def html_to_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """A PDF of a self-contained HTML document (images as data: URLs)."""
    from weasyprint import HTML  # type: ignore[import-untyped]

    pdf = HTML(string=html, base_url=base_url).write_pdf()
    assert pdf is not None
    return bytes(pdf)
