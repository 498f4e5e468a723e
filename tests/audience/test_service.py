"""Audience service on the real database: CRM import, segments, exports, GDPR."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import AuditEntry
from dialogo.accounts.permissions import Role
from dialogo.audience import service as audience
from dialogo.audience.models import ContactInterest, ContactProfile
from dialogo.audience.segments import SegmentSyntaxError
from dialogo.core.errors import InvalidInput, NotFound, PermissionDenied
from dialogo.inbox.models import Contact, ContactIdentity, Message
from tests.factories import add_member, make_user, make_workspace

MAPPING = {
    "CRM id": "external_id",
    "E-mail": "email",
    "Tel": "phone",
    "Nome": "first_name",
    "Cognome": "last_name",
    "Età": "age",
    "Sesso": "sex",
    "Città": "place",
    "Regione": "region",
    "Paese": "country",
    "Interessi": "interests",
    "Ultimo contatto": "last_engaged_at",
}
HEADER = (
    "CRM id,E-mail,Tel,Nome,Cognome,Età,Sesso,Città,Regione,Paese,Interessi,Ultimo contatto,Note\n"
)


def _recent(days: int) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).isoformat()


def crm_file() -> str:
    return HEADER + "".join(
        [
            "c1,Anna.Rossi@Example.com,333 123 4567,Anna,Rossi,29,F,Roma,Lazio,IT,"
            f"running;yoga,{_recent(3)},vip\n",
            f"c2,marco@example.com,,Marco,Bianchi,31,M,Napoli,Campania,IT,running,{_recent(60)},\n",
            "c3,giulia@example.com,+39 347 000 1111,Giulia,Verdi,45,f,Milano,Lombardia,IT,"
            f"running,{_recent(1)},\n",
            f"c4,luca@example.com,,Luca,Neri,26,m,Salerno,Campania,IT,cooking,{_recent(2)},\n",
            'c5,sara@example.com,,Sara,"Esposito, jr",33,x,Caserta,Campania,IT,'
            'running|cooking,,"multi\nline"\n',
        ]
    )


@pytest.fixture
def brand(db: Session) -> tuple[accounts.Principal, int]:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    return accounts.Principal.for_user(owner), workspace.id


def _import(db: Session, brand: tuple[accounts.Principal, int]) -> audience.ImportResult:
    principal, ws = brand
    return audience.import_csv(db, principal, ws, crm_file(), MAPPING)


def test_import_maps_columns_and_the_example_segment_selects_the_right_people(
    db: Session, brand: tuple[accounts.Principal, int]
) -> None:
    principal, ws = brand
    assert _import(db, brand) == audience.ImportResult(created=5, updated=0)
    anna = db.scalar(select(ContactProfile).where(ContactProfile.external_id == "c1"))
    assert anna is not None
    assert (anna.email, anna.age_band, anna.sex, anna.region) == (
        "anna.rossi@example.com",
        "25-34",
        "female",
        "Lazio",
    )
    contact = db.get(Contact, anna.contact_id)
    assert contact is not None and contact.display_name == "Anna Rossi"
    expression = (
        "age 25-34 AND region IN (Lazio, Campania) AND interest:running AND engaged_last_30d"
    )
    members = audience.segment_members(db, principal, ws, expression)
    # Anna: yes. Marco: not engaged for 60 days. Giulia: 45. Luca: no running. Sara: never.
    assert members == [anna.contact_id]
    assert audience.segment_size(db, principal, ws, "interest:running") == 4
    assert audience.segment_size(db, principal, ws, "NOT interest:running") == 1
    assert audience.segment_size(db, principal, ws, "age 65+ OR sex = other") == 1
    assert audience.segment_size(db, principal, ws, 'place != "Roma"') == 4


def test_reimport_updates_instead_of_duplicating(
    db: Session, brand: tuple[accounts.Principal, int]
) -> None:
    _import(db, brand)
    assert _import(db, brand) == audience.ImportResult(created=0, updated=5)
    assert db.scalar(select(func.count()).select_from(ContactProfile)) == 5


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(
    db: Session, brand: tuple[accounts.Principal, int]
) -> None:
    principal, ws = brand
    content = crm_file() + (
        "c6,not-an-email,,A,B,29,F,Roma,Lazio,IT,,,\n"  # line 8 (record 5 spans two lines)
        "c7,ok@example.com,,A,B,200,Q,Roma,Lazio,ITA,,,\n"  # line 9
        "c8,short\n"  # line 10
        "c1,dup@example.com,,A,B,29,F,Roma,Lazio,IT,,,\n"  # line 11: duplicate CRM id
    )
    with pytest.raises(InvalidInput) as caught:
        audience.import_csv(db, principal, ws, content, MAPPING)
    errors = caught.value.details["errors"]
    assert [e["line"] for e in errors] == [8, 9, 10, 11]
    assert "e-mail" in errors[0]["message"]
    assert "outside" in errors[1]["message"] and "country" in errors[1]["message"]
    assert "nothing was imported" in caught.value.message
    assert db.scalar(select(func.count()).select_from(ContactProfile)) == 0
    assert db.scalar(select(func.count()).select_from(Contact)) == 0


def test_a_mapping_to_an_unknown_field_or_missing_column_is_refused(
    db: Session, brand: tuple[accounts.Principal, int]
) -> None:
    principal, ws = brand
    with pytest.raises(InvalidInput, match="unknown field"):
        audience.import_csv(db, principal, ws, crm_file(), {"E-mail": "shoe_size"})
    with pytest.raises(InvalidInput, match="not in the file"):
        audience.import_csv(db, principal, ws, crm_file(), {"Mail": "email"})


def test_segments_are_saved_checked_and_overlap(
    db: Session, brand: tuple[accounts.Principal, int]
) -> None:
    principal, ws = brand
    _import(db, brand)
    runners = audience.create_segment(db, principal, ws, "Runners", "interest:running")
    south = audience.create_segment(db, principal, ws, "South", "region = Campania")
    with pytest.raises(SegmentSyntaxError) as caught:
        audience.create_segment(db, principal, ws, "Broken", "region IN (Lazio")
    assert caught.value.column == len("region IN (Lazio") + 1
    overlap = audience.overlaps(db, principal, ws, [runners.id, south.id])
    assert overlap.sizes == [4, 3]
    assert overlap.shared == [[4, 2], [2, 3]]


def test_exports_hash_normalised_identifiers_and_are_audited(
    db: Session, brand: tuple[accounts.Principal, int]
) -> None:
    principal, ws = brand
    _import(db, brand)
    content, rows = audience.export_audience(db, principal, ws, "region = Lazio", "meta")
    parsed = list(csv.reader(io.StringIO(content)))
    assert parsed[0] == ["email", "phone", "fn", "ln", "ct", "zip", "country", "gen"]
    assert rows == 1
    sha = lambda s: hashlib.sha256(s.encode()).hexdigest()  # noqa: E731
    assert parsed[1][0] == sha("anna.rossi@example.com")
    assert parsed[1][1] == sha("393331234567")
    assert parsed[1][7] == sha("f")
    google, _ = audience.export_audience(db, principal, ws, "region = Lazio", "google")
    row = list(csv.reader(io.StringIO(google)))[1]
    assert row[1] == sha("+393331234567") and row[4] == "IT"
    entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "audience.exported"))
    assert [e.after["format"] for e in entries if e.after] == ["meta", "google"]


def test_a_viewer_reads_but_cannot_export_or_erase(
    db: Session, brand: tuple[accounts.Principal, int]
) -> None:
    principal, ws = brand
    _import(db, brand)
    owner_ws = accounts.get_workspace(db, principal, ws)
    owner = db.get(accounts.User, principal.user_id)
    assert owner is not None
    viewer = accounts.Principal.for_user(add_member(db, owner_ws, owner, Role.viewer))
    assert audience.segment_size(db, viewer, ws, "interest:running") == 4
    with pytest.raises(PermissionDenied):
        audience.export_audience(db, viewer, ws, "interest:running", "meta")
    contact_id = audience.segment_members(db, viewer, ws, "interest:running")[0]
    with pytest.raises(PermissionDenied):
        audience.erase_person(db, viewer, ws, contact_id)
    stranger = accounts.Principal.for_user(make_user(db))
    with pytest.raises((NotFound, PermissionDenied)):
        audience.segment_size(db, stranger, ws, "interest:running")


def test_gdpr_export_then_erasure_removes_the_person_everywhere(
    db: Session, brand: tuple[accounts.Principal, int]
) -> None:
    principal, ws = brand
    _import(db, brand)
    anna = db.scalar(select(ContactProfile).where(ContactProfile.external_id == "c1"))
    assert anna is not None
    cid = anna.contact_id
    db.add(ContactIdentity(contact_id=cid, workspace_id=ws, network="sandbox", remote_id="u1"))
    db.flush()
    from dialogo.channels.models import Channel

    channel = Channel(
        workspace_id=ws,
        network="sandbox",
        name="Sandbox",
        account_remote_id="brand",
        account_handle="brand",
        credentials="x",
    )
    db.add(channel)
    db.flush()
    db.add(
        Message(
            workspace_id=ws,
            channel_id=channel.id,
            remote_id="m1",
            kind="mention",
            contact_id=cid,
            text="Adoro le vostre scarpe",
        )
    )
    db.flush()
    data = audience.export_person(db, principal, ws, cid)
    assert data["profile"]["email"] == "anna.rossi@example.com"
    assert [m["text"] for m in data["messages"]] == ["Adoro le vostre scarpe"]
    assert {i["interest"] for i in data["interests"]} == {"running", "yoga"}
    counts = audience.erase_person(db, principal, ws, cid)
    assert counts["messages"] == 1 and counts["identities"] == 1 and counts["interests"] == 2
    assert db.get(Contact, cid) is None
    assert (
        db.scalar(select(func.count()).select_from(Message).where(Message.remote_id == "m1")) == 0
    )
    assert db.scalar(select(ContactInterest).where(ContactInterest.contact_id == cid)) is None
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "contact.erased"))
    assert entry is not None and entry.entity_id == str(cid)
    assert "anna" not in str(entry.after).lower()
    with pytest.raises(NotFound):
        audience.export_person(db, principal, ws, cid)
