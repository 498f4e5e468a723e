"""The Measurement page through the web stack: charts and tables for members, forms that
refuse bad input with a clear message (a broken CSV names its rows), nothing for others."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.analytics.models import Conversion, ShortLink
from tests.factories import add_member, make_user
from tests.web.conftest import Browser


def test_the_page_shows_charts_and_creates_a_link(
    signed_in: Browser, workspace: Workspace, db: Session
) -> None:
    url = f"/w/{workspace.id}/analytics"
    page = signed_in.get(url)
    assert page.status_code == 200, page.text
    assert page.text.count('<svg class="chart"') == 2
    created = signed_in.post(f"{url}/links", {"url": "https://shop.example/x"})
    assert created.status_code == 303 and created.headers["location"] == url
    page = signed_in.get(url)
    assert "Short link created" in page.text
    code = db.scalar(select(ShortLink.code).where(ShortLink.workspace_id == workspace.id))
    assert code and f"/l/{code}" in page.text
    refused = signed_in.post(f"{url}/links", {"url": "ftp://nope"})
    assert refused.status_code == 303
    assert "not an http(s) address" in signed_in.get(url).text


def test_a_broken_csv_is_refused_by_row_and_nothing_is_imported(
    signed_in: Browser, workspace: Workspace, db: Session
) -> None:
    url = f"/w/{workspace.id}/analytics"
    signed_in.get(url)
    broken = b"order_id,value\nA,1\nB,oops\nC,2\n,3\n"
    sent = signed_in.post(f"{url}/conversions", files={"file": ("orders.csv", broken, "text/csv")})
    assert sent.status_code == 303
    page = signed_in.get(url).text
    assert "2 rows are broken; nothing was imported" in page
    assert "row 3, value" in page and "row 5, order_id" in page
    count = db.scalar(
        select(func.count(Conversion.id)).where(Conversion.workspace_id == workspace.id)
    )
    assert count == 0
    signed_in.post(
        f"{url}/conversions", files={"file": ("ok.csv", b"order_id,value\nA,1\n", "text/csv")}
    )
    assert "1 conversions imported" in signed_in.get(url).text


def test_viewers_see_no_forms_and_strangers_nothing(
    sign_in_as,
    owner: User,
    workspace: Workspace,
    db: Session,  # type: ignore[no-untyped-def]
) -> None:
    viewer = add_member(db, workspace, owner, Role.viewer)
    stranger = make_user(db)
    db.commit()
    url = f"/w/{workspace.id}/analytics"
    as_viewer = sign_in_as(viewer)
    page = as_viewer.get(url)
    assert page.status_code == 200 and "Create short link" not in page.text
    assert as_viewer.post(f"{url}/links", {"url": "https://shop.example"}).status_code == 303
    assert "does not allow posts.write" in as_viewer.get(url).text
    assert sign_in_as(stranger).get(url).status_code == 404
