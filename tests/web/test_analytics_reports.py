"""The measurement report as PDF in Italian and English, rendered and checked as an image
(pdftoppm) with the workspace's logo, and the dashboard's tables as CSV and XLSX; the A/B
section on the page."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.analytics import experiments
from dialogo.analytics.models import MetricDailyTotal
from dialogo.core.clock import utcnow
from tests.web.conftest import Browser

LOGO_COLOUR = (230, 20, 120)  # a magenta nothing else in the report uses


def _logo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 60), LOGO_COLOUR).save(out, format="PNG")
    return out.getvalue()


def _seed(db: Session, workspace: Workspace) -> None:
    workspace.logo = _logo()
    workspace.logo_content_type = "image/png"
    today = utcnow().date()
    for n in range(5):
        db.add(
            MetricDailyTotal(
                workspace_id=workspace.id,
                day=today - dt.timedelta(days=n),
                posts=1,
                impressions=1000 + n,
                reach=800 + 100 * n,
                likes=40 + n,
                replies=2,
                reposts=3,
                quotes=0,
                clicks=5,
                video_views=0,
            )
        )
    db.commit()


def _render(pdf: bytes, tmp_path: Path, name: str) -> Image.Image:
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(source), str(tmp_path / name)],
        check=True,
        timeout=120,
    )
    (page,) = sorted(tmp_path.glob(f"{name}*.png"))
    return Image.open(page).convert("RGB")


def _text(pdf: bytes, tmp_path: Path, name: str) -> str:
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", str(source), "-"], check=True, capture_output=True, timeout=120
    )
    return done.stdout.decode()


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils is not installed")
def test_the_pdf_report_in_both_languages_shows_the_logo_and_the_chart(
    signed_in: Browser, workspace: Workspace, db: Session, tmp_path: Path
) -> None:
    _seed(db, workspace)
    words = {"it": ("Copertura", "Ricavi"), "en": ("Reach", "Revenue")}
    for language, (reach, revenue) in words.items():
        got = signed_in.get(f"/w/{workspace.id}/analytics/report.pdf?lang={language}")
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == "application/pdf"
        assert got.content.startswith(b"%PDF")
        image = _render(got.content, tmp_path, language)
        width, height = image.size
        assert height > width  # A4 portrait
        pixels = np.asarray(image, dtype=np.int32)
        is_logo = (np.abs(pixels - np.array(LOGO_COLOUR)) < 40).all(axis=2)
        assert is_logo.sum() > 300, "the logo is not on the page"
        assert is_logo[: height // 4].sum() == is_logo.sum()  # in the header, at the top
        ink = (pixels.sum(axis=2) < 600).sum()
        assert ink > 2000, "the page is (nearly) blank"
        # The chart's blue line is drawn.
        blue = (pixels[:, :, 2] > 180) & (pixels[:, :, 0] < 90) & (pixels[:, :, 1] < 150)
        assert blue.sum() > 30
        text = _text(got.content, tmp_path, language)
        assert reach in text and revenue in text and workspace.name in text
    html = signed_in.get(f"/w/{workspace.id}/analytics/report.html?lang=it")
    assert (
        html.status_code == 200
        and 'lang="it"' in html.text
        and "data:image/png;base64" in html.text
    )


def test_csv_and_xlsx_exports(signed_in: Browser, workspace: Workspace, db: Session) -> None:
    _seed(db, workspace)
    got = signed_in.get(f"/w/{workspace.id}/analytics/export/daily.csv")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    lines = got.text.strip().splitlines()
    assert lines[0] == "day,impressions,reach,engagements,clicks"
    assert len(lines) == 6 and lines[-1].endswith(",1000,800,50,5")
    assert signed_in.get(f"/w/{workspace.id}/analytics/export/nope.csv").status_code == 404
    book = signed_in.get(f"/w/{workspace.id}/analytics/export.xlsx")
    assert book.status_code == 200
    sheets = load_workbook(io.BytesIO(book.content))
    assert sheets.sheetnames == ["daily", "top_posts", "campaigns"]
    rows = list(sheets["daily"].iter_rows(values_only=True))
    assert rows[0] == ("day", "impressions", "reach", "engagements", "clicks")
    assert rows[-1][1:] == (1000, 800, 50, 5)  # numbers stay numbers


def test_the_dashboard_shows_ab_tests(
    signed_in: Browser, owner: User, workspace: Workspace, db: Session
) -> None:
    from dialogo.accounts.service import Principal

    test = experiments.create_test(
        db,
        Principal.for_user(owner),
        workspace.id,
        name="Subject line",
        arms=[
            experiments.ArmSpec("A", trials=5000, successes=100),
            experiments.ArmSpec("B", trials=5000, successes=200),
        ],
    )
    db.commit()
    page = signed_in.get(f"/w/{workspace.id}/analytics")
    assert page.status_code == 200
    assert 'data-ab-test="Subject line"' in page.text
    assert "winner: B" in page.text and test.id
    # No history yet: the drafts section says why it cannot predict.
    assert "at least 8 are needed to predict engagement" in page.text
    assert "Add listening queries for the brand and its competitors" in page.text
