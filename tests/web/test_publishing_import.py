"""The bulk import page through the app (TestClient): a dry run listing every error with its
row, nothing written on any error, the checked content carried to the import button, pasted
rows, JSON, the example CSV (which imports as it is), and who may import."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.providers.errors import RateLimited
from dialogo.providers.registry import ProviderRegistry
from dialogo.publishing.models import Post
from tests.factories import add_member
from tests.web import test_publishing_pages as _pages
from tests.web.conftest import Browser
from tests.web.test_publishing_pages import TOO_LONG, Two, posts_in

# The publishing pages' fixtures: two fake networks, the app with them, a channel on each.
app = _pages.app
chans = _pages.chans
networks = _pages.networks
registry = _pages.registry


def later(days: int = 3) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).isoformat() + " 09:30"


def rows_csv(*rows: tuple[str, str, str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["channel", "text", "scheduled_at"])
    writer.writerows(rows)
    return out.getvalue().encode()


def check(browser: Browser, workspace: Workspace, data: bytes, name: str = "posts.csv") -> object:
    return browser.post(
        f"/w/{workspace.id}/publishing/import",
        {"action": "check"},
        files={"file": (name, data, "text/csv")},
    )


def error_rows(html: str) -> list[tuple[str, str, str]]:
    found = re.findall(
        r'<tr id="import-error-\d+" data-row="(\d+)">\s*<td>.*?</td>\s*<td>(.*?)</td>\s*'
        r"<td>(.*?)</td>",
        html,
        re.S,
    )
    return [(row, field.strip(), message.strip()) for row, field, message in found]


def test_dry_run_lists_every_error_with_its_row_and_writes_nothing(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    page = signed_in.get(f"/w/{workspace.id}/publishing/import")
    assert page.status_code == 200
    assert 'aria-current="page">Import</a>' in page.text
    data = rows_csv(
        ("Aurora fakenet", "Buongiorno!", later()),
        ("Aurora shortnet", TOO_LONG, ""),
        ("Aurora nowhere", "Ciao", ""),
        ("Aurora fakenet", "Domani", "yesterday-ish"),
    )
    r = check(signed_in, workspace, data)
    assert r.status_code == 422  # type: ignore[attr-defined]
    html = r.text  # type: ignore[attr-defined]
    assert "Nothing was imported: 3 errors; fix them and check again." in html
    errors = error_rows(html)
    assert [(row, field) for row, field, _ in errors] == [
        ("2", "text"),
        ("3", "channel"),
        ("4", "scheduled_at"),
    ]
    assert "40 characters, 20 allowed" in errors[0][2]
    assert "no channel &#39;Aurora nowhere&#39;" in errors[1][2]
    assert "row 2" in html and "posts.csv" in html
    assert 'name="carried"' not in html  # no import button for a file with errors
    assert posts_in(db, workspace) == []

    # The same file with "Check and import": still nothing written.
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/import",
        {"action": "import"},
        files={"file": ("posts.csv", data, "text/csv")},
    )
    assert r.status_code == 422
    assert posts_in(db, workspace) == []


def test_a_clean_dry_run_then_import_creates_every_post(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    data = rows_csv(
        ("Aurora fakenet", "Buongiorno!", later()),
        ("Aurora shortnet|Aurora fakenet", "Ciao!", ""),
    )
    r = check(signed_in, workspace, data)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    html = r.text  # type: ignore[attr-defined]
    assert "All 2 rows are valid: nothing is written until you import." in html
    assert "2 posts will be created" in html and "1 of them scheduled" in html
    carried = re.search(r'name="carried" value="([^"]+)"', html)
    assert carried and base64.b64decode(carried.group(1)) == data
    assert posts_in(db, workspace) == []  # a dry run writes nothing

    r = signed_in.post(
        f"/w/{workspace.id}/publishing/import",
        {"action": "import", "carried": carried.group(1), "format": "csv"},
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/w/{workspace.id}/publishing"
    assert (
        "2 posts imported (1 scheduled, the others are drafts)."
        in signed_in.get(r.headers["location"]).text
    )
    posts = sorted(posts_in(db, workspace), key=lambda p: p.id)
    assert [p.status for p in posts] == ["scheduled", "draft"]
    assert sorted(v.channel_id for v in posts[1].variants) == sorted(
        [chans.long.id, chans.short.id]
    )


def test_pasted_json_rows_are_checked_and_imported(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    rows = [
        {"channel": chans.long.id, "text": "Dal JSON"},
        {"channel": "Aurora shortnet", "text": TOO_LONG},
    ]
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/import",
        {"action": "check", "pasted": json.dumps(rows)},
    )
    assert r.status_code == 422
    assert [(row, field) for row, field, _ in error_rows(r.text)] == [("2", "text")]
    assert "Dal JSON" in r.text  # the pasted rows are kept to fix them
    rows[1]["text"] = "Corto"
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/import",
        {"action": "import", "pasted": json.dumps(rows)},
    )
    assert r.status_code == 303, r.text
    assert sorted(p.variants[0].text for p in posts_in(db, workspace)) == ["Corto", "Dal JSON"]


def test_file_level_errors_and_missing_input(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    r = signed_in.post(f"/w/{workspace.id}/publishing/import", {"action": "check"})
    assert r.status_code == 422 and "Choose a CSV or JSON file, or paste rows." in r.text
    r = check(signed_in, workspace, b"name,body\nx,y\n")
    assert r.status_code == 422  # type: ignore[attr-defined]
    found = error_rows(r.text)  # type: ignore[attr-defined]
    assert {row for row, _, _ in found} == {"0"}
    assert "the whole file" in r.text  # type: ignore[attr-defined]
    r = check(signed_in, workspace, "canale,testo\n".encode("latin-1") + b"\xe8\n", "x.csv")
    assert r.status_code == 422 and "not UTF-8" in r.text  # type: ignore[attr-defined]
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/import",
        {"action": "check"},
        files={"file": ("posts.xlsx", b"PK\x03\x04", "application/vnd.ms-excel")},
    )
    assert r.status_code == 422 and "Say whether the file is CSV or JSON" in r.text
    assert posts_in(db, workspace) == []


def test_the_example_csv_names_the_channels_and_imports(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    r = signed_in.get(f"/w/{workspace.id}/publishing/import/example.csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == ["channel", "text", "scheduled_at", "campaign", "first_comment"]
    assert {rows[0]["channel"]} <= {chans.long.name, chans.short.name}
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/import",
        {"action": "import"},
        files={"file": ("example.csv", r.content, "text/csv")},
    )
    assert r.status_code == 303, r.text
    assert len(posts_in(db, workspace)) == 2


def test_a_viewer_cannot_import(
    db: Session,
    owner: User,
    workspace: Workspace,
    chans: Two,
    sign_in_as: object,
) -> None:
    viewer_user = add_member(db, workspace, owner, Role.viewer)
    db.commit()
    browser = sign_in_as(viewer_user)  # type: ignore[operator]
    page = browser.get(f"/w/{workspace.id}/publishing/import")
    assert page.status_code == 200 and 'id="import-form"' not in page.text
    r = browser.post(
        f"/w/{workspace.id}/publishing/import",
        {"action": "import", "pasted": "channel,text\nAurora fakenet,Ciao\n"},
    )
    assert r.status_code == 403
    assert db.scalars(select(Post).where(Post.workspace_id == workspace.id)).first() is None


def test_italian_a_network_error_is_worded_with_the_network_text_kept(
    db: Session,
    signed_in: Browser,
    workspace: Workspace,
    chans: Two,
    registry: ProviderRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(self: object, draft: object) -> list[object]:
        raise RateLimited("Rate limit exceeded (code 88)", retry_after=60)

    monkeypatch.setattr(registry.get("fakenet"), "validate", refuse)
    signed_in.post("/language", {"language": "it", "next": "/"})
    r = check(signed_in, workspace, rows_csv(("Aurora fakenet", "Buongiorno!", "")))
    assert r.status_code == 422  # type: ignore[attr-defined]
    [(row, _field, message)] = error_rows(r.text)  # type: ignore[attr-defined]
    # The kind of error in Italian; what the network said stays as it said it, after it.
    assert row == "1" and message == (
        "è stato raggiunto il limite di chiamate della rete — dettagli: "
        f"{chans.long.name}: Rate limit exceeded (code 88)"
    )
    assert posts_in(db, workspace) == []
