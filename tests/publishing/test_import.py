"""Bulk import from CSV and JSON: all rows or none, every error with its row number."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.channels.crypto import CredentialCipher
from dialogo.core.context import AppContext
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeNetwork
from dialogo.publishing import imports, service
from dialogo.publishing.imports import ImportRejected
from dialogo.publishing.models import Post
from dialogo.publishing.schemas import CampaignCreate, PublishingSettingsIn
from dialogo.server import create_app
from tests.api.conftest import Api, Auth, assert_problem, token_auth
from tests.publishing.conftest import Brand, connect

NOW = dt.datetime(2027, 1, 10, 12, tzinfo=dt.UTC)


def posts_in(db: Session, brand: Brand) -> int:
    return db.scalar(select(func.count()).select_from(Post).where(Post.workspace_id == brand.id))


def run(
    db: Session,
    brand: Brand,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
    data: bytes,
    fmt: str = "csv",
    *,
    dry_run: bool = False,
) -> imports.ImportReport:
    return imports.import_posts(
        db,
        brand.principal,
        brand.id,
        data,
        fmt,
        registry=providers,
        cipher=cipher,
        dry_run=dry_run,
        now=NOW,
    )


def rejected(*args: object, **kwargs: object) -> list[tuple[int, str, str]]:
    with pytest.raises(ImportRejected) as caught:
        run(*args, **kwargs)  # type: ignore[arg-type]
    return [(e.row, e.field, e.code) for e in caught.value.errors]


def test_csv_import_schedules_in_the_workspace_zone_with_campaign_and_channels(
    db: Session,
    brand: Brand,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
    network: FakeNetwork,
) -> None:
    second = connect(
        db, brand.owner, brand.id, network, providers, cipher, network.add_account("secondo")
    )
    service.create_campaign(db, brand.principal, brand.id, CampaignCreate(name="Saldi"))
    data = (
        "channel,text,scheduled_at,campaign\n"
        f"{brand.channel.id},Buongiorno,2027-07-01 09:00,Saldi\n"
        f'"@caffe_aurora|{second.id}","Ciao, a tutti",2027-01-20T10:00:00+00:00,\n'
        f"{second.name},Solo bozza,,\n"
    ).encode()
    assert run(db, brand, providers, cipher, data, dry_run=True).posts == 3
    assert posts_in(db, brand) == 0  # a dry run writes nothing
    report = run(db, brand, providers, cipher, data)
    assert (report.rows, report.posts, report.scheduled) == (3, 3, 2)
    first, both, draft = (
        service.get_post(db, brand.principal, brand.id, i) for i in report.post_ids
    )
    # 09:00 in Rome in July is 07:00 UTC (summer time).
    assert first.scheduled_at == dt.datetime(2027, 7, 1, 7, tzinfo=dt.UTC)
    assert first.status == "scheduled" and first.campaign_id is not None
    assert sorted(v.channel_id for v in both.variants) == sorted([brand.channel.id, second.id])
    assert both.scheduled_at == dt.datetime(2027, 1, 20, 10, tzinfo=dt.UTC)
    assert draft.status == "draft" and draft.variants[0].text == "Solo bozza"


def test_every_bad_row_is_reported_and_nothing_is_imported(
    db: Session,
    brand: Brand,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
    other_network: FakeNetwork,
) -> None:
    connect(
        db,
        brand.owner,
        brand.id,
        other_network,
        providers,
        cipher,
        other_network.add_account("corto"),
    )
    data = (
        "channel;text;scheduled_at;campaign\n"
        f"{brand.channel.id};Valida;2027-02-01 09:00;\n"  # row 1: fine
        "999999;Canale sconosciuto;;\n"  # row 2
        f"{brand.channel.id};Data sbagliata;31/02/2027 9:00;\n"  # row 3
        f"corto;{'troppo lungo ' * 5};;\n"  # row 4: over shortnet's 20 characters
        f"{brand.channel.id};Nel passato;2020-01-01 09:00;\n"  # row 5
        f"{brand.channel.id};;;\n"  # row 6: no text
        f"{brand.channel.id};Campagna?;;Inesistente\n"  # row 7
    ).encode()
    errors = rejected(db, brand, providers, cipher, data)
    assert errors == [
        (2, "channel", "unknown_channel"),
        (3, "scheduled_at", "bad_datetime"),
        (4, "text", "too_long"),
        (5, "scheduled_at", "in_the_past"),
        (6, "text", "required"),
        (7, "campaign", "unknown_campaign"),
    ]
    assert posts_in(db, brand) == 0  # row 1 was valid, but nothing is half-imported


@pytest.mark.parametrize(
    ("data", "fmt", "expected"),
    [
        ("channel,text\n1,caff\xe8\n".encode("latin-1"), "csv", [(0, "file", "bad_encoding")]),
        (
            b"text,when\nhello,tomorrow\n",
            "csv",
            [(0, "file", "unknown_column"), (0, "channel", "missing_column")],
        ),
        (b"channel,text\n", "csv", [(0, "file", "empty")]),
        (b"channel,text\n1,a,b\n", "csv", [(1, "file", "extra_cells")]),
        (b'[{"channel": 1, "text": "a"},', "json", [(0, "file", "bad_json")]),
        (b'{"channel": 1}', "json", [(0, "file", "bad_json")]),
        (b'[{"channel": 1, "text": "a"}, 3]', "json", [(2, "row", "not_an_object")]),
        (b'[{"channel": 1, "txt": "a"}]', "json", [(0, "file", "unknown_column")]),
    ],
)
def test_malformed_files_are_refused_with_the_reason(
    db: Session,
    brand: Brand,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
    data: bytes,
    fmt: str,
    expected: list[tuple[int, str, str]],
) -> None:
    assert rejected(db, brand, providers, cipher, data, fmt) == expected
    assert posts_in(db, brand) == 0


def test_json_import_and_approval_required_refuses_scheduling(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    rows = [
        {"channel": brand.channel.id, "text": "Prima", "first_comment": "link in bio"},
        {"channel": [brand.channel.id], "text": "Seconda", "scheduled_at": "2027-03-01 12:00"},
    ]
    report = run(db, brand, providers, cipher, json.dumps({"posts": rows}).encode(), "json")
    assert (report.posts, report.scheduled) == (2, 1)
    first = service.get_post(db, brand.principal, brand.id, report.post_ids[0])
    assert first.variants[0].first_comment == "link in bio"

    service.update_settings(
        db, brand.principal, brand.id, PublishingSettingsIn(approval_required=True)
    )
    errors = rejected(db, brand, providers, cipher, json.dumps(rows).encode(), "json")
    assert errors == [(2, "scheduled_at", "approval_required")]
    assert posts_in(db, brand) == 2


# --- API ----------------------------------------------------------------------------------------


@pytest.fixture
def api(ctx: AppContext, providers: ProviderRegistry) -> Iterator[Api]:
    with TestClient(create_app(dataclasses.replace(ctx, providers=providers))) as client:
        yield Api(client)


@pytest.fixture
def auth(db: Session, brand: Brand) -> Auth:
    auth, _, _ = token_auth(db, brand.owner, ["write"])
    db.commit()
    return auth


def test_import_endpoint_dry_run_errors_and_success(
    api: Api, auth: Auth, brand: Brand, db: Session
) -> None:
    url = f"/api/v1/workspaces/{brand.id}/posts/import"
    good = f"channel,text\n{brand.channel.id},Dal file\n".encode()
    dry = api.post(
        url, files={"file": ("p.csv", good, "text/csv")}, params={"dry_run": "true"}, auth=auth
    )
    assert dry.status_code == 200, dry.text
    assert dry.json() == {"dry_run": True, "rows": 1, "posts": 1, "scheduled": 0, "post_ids": []}

    bad = b"channel,text\n424242,x\n"
    problem = assert_problem(
        api.post(url, files={"file": ("p.csv", bad, "text/csv")}, auth=auth), 422
    )
    assert problem["code"] == "import_rejected"
    assert problem["errors"][0]["row"] == 1 and problem["errors"][0]["field"] == "channel"

    unknown = api.post(url, files={"file": ("p.xlsx", good, "application/vnd.ms-excel")}, auth=auth)
    assert assert_problem(unknown, 422)["code"] == "unknown_format"

    done = api.post(url, files={"file": ("p.csv", good, "text/csv")}, auth=auth)
    assert done.status_code == 200, done.text
    [post_id] = done.json()["post_ids"]
    got = api.get(f"/api/v1/workspaces/{brand.id}/posts/{post_id}", auth=auth).json()
    assert got["variants"][0]["text"] == "Dal file"
