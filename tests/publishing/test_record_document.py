"""The outcomes' JSON document (``dispatcher._outcomes_document``) leaves out the fields an
outcome leaves empty and formats each timestamp once: PostgreSQL's ``json_to_recordset``
reads it exactly as it reads the document with every key."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from dialogo.publishing import dispatcher
from dialogo.publishing.models import VariantStatus

NOW = dt.datetime(2026, 3, 29, 1, 30, 0, 250_000, tzinfo=dt.UTC)


def _claimed(n: int, **outcome: Any) -> dispatcher.Claimed:
    c = dispatcher.Claimed(
        id=n,
        post_id=n,
        workspace_id=1,
        channel_id=1,
        network="fakenet",
        text=f"post {n}",
        thread=[],
        first_comment=None,
        idempotency_key=f"k{n}",
        dispatch_round=0,
        attempts=0,
        needs_check=False,
        first_attempt_at=NOW,
        previous_status=VariantStatus.scheduled.value,
    )
    for name, value in outcome.items():
        setattr(c, name, value)
    return c


def _outcomes() -> list[dispatcher.Claimed]:
    return [
        _claimed(1, status="published", remote_id="r1", attempts=1, published_at=NOW),
        _claimed(2, status="published", remote_id="r2", url="https://x/2", published_at=NOW),
        _claimed(
            3,
            status="queued",
            attempts=2,
            last_error="fakenet: busy (ü)",
            last_error_code="server_error",
            last_error_params={"detail": "busy", "at": NOW},
            next_attempt_at=NOW + dt.timedelta(seconds=5),
            needs_check=True,
        ),
        _claimed(4, status="release", previous_status="unconfirmed", next_attempt_at=NOW),
        _claimed(
            5,
            status="queued",
            pending_state={"state": {"container": "c1"}, "since": NOW.isoformat(), "checks": 0},
            thread_ids=["t1", "t2"],
        ),
    ]


def _full_document(variants: list[dispatcher.Claimed]) -> str:
    """Every key of every outcome, as the document was written before (the reference)."""
    return dispatcher._json(
        [
            {
                "id": c.id,
                "status": dispatcher._outcome_status(c),
                **{
                    name: getattr(c, name)
                    for name, _ in dispatcher._RECORD_PG_COLUMNS
                    if name != "status"
                },
            }
            for c in variants
        ]
    )


def test_empty_fields_are_left_out_and_timestamps_formatted_once() -> None:
    variants = _outcomes()
    rows = json.loads(dispatcher._outcomes_document(variants))
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5]
    published = rows[0]
    assert set(published) == {
        "id",
        "status",
        "remote_id",
        "thread_ids",
        "needs_check",
        "attempts",
        "dispatch_round",
        "published_at",
    }
    assert published["published_at"] == NOW.isoformat() == rows[1]["published_at"]
    assert rows[1]["url"] == "https://x/2"
    assert rows[2]["last_error"] == "fakenet: busy (ü)"
    assert rows[2]["last_error_params"] == {"detail": "busy", "at": str(NOW)}
    assert dt.datetime.fromisoformat(rows[2]["next_attempt_at"]) == NOW + dt.timedelta(seconds=5)
    assert rows[3]["status"] == "unconfirmed"  # released: back to where it was
    assert rows[4]["pending_state"]["state"] == {"container": "c1"}
    assert rows[4]["thread_ids"] == ["t1", "t2"]
    for row, c in zip(rows, variants, strict=True):
        full = {name: getattr(c, name) for name, _ in dispatcher._RECORD_PG_COLUMNS}
        assert {k for k, v in full.items() if v is not None} | {"id"} == set(row)


def _encoders_document(variants: list[dispatcher.Claimed]) -> str:
    """The short document as the encoder writes it from dicts (how it was built before)."""
    rows = []
    for c in variants:
        row = {
            "id": c.id,
            "status": dispatcher._outcome_status(c),
            "thread_ids": c.thread_ids,
            "needs_check": c.needs_check,
            "attempts": c.attempts,
            "dispatch_round": c.dispatch_round,
        }
        for name in ("remote_id", "url", "last_error", "last_error_code"):
            if getattr(c, name) is not None:
                row[name] = getattr(c, name)
        for name in ("last_error_params", "pending_state"):
            if getattr(c, name) is not None:
                row[name] = getattr(c, name)
        for name in ("next_attempt_at", "published_at"):
            if getattr(c, name) is not None:
                row[name] = getattr(c, name).isoformat()
        rows.append(row)
    return dispatcher._json(rows)


def test_the_document_is_the_encoders_json_of_the_same_rows() -> None:
    """Written row by row as text, it is character for character what the encoder writes,
    whatever the strings hold (quotes, escapes, controls, line separators, emoji) and
    whatever a provider returned as an id (a number)."""
    odd = 'a "quoted" \\ back\\slash\nnew line\ttab \x01\x1f \u2028\u2029 é 😀 </script>'
    variants = [
        *_outcomes(),
        _claimed(6, status="published", remote_id=odd, url=odd, published_at=NOW),
        _claimed(7, status="failed", last_error=odd, last_error_code=odd, attempts=3),
        _claimed(8, status="published", remote_id=12345, thread_ids=("x", odd)),
        _claimed(9, status="queued", last_error_params={odd: [odd, 1, None]}, needs_check=True),
        _claimed(10, status="published", remote_id="", thread_ids=[], published_at=NOW),
    ]
    document = dispatcher._outcomes_document(variants)
    assert document == _encoders_document(variants)
    assert json.loads(document)[5]["remote_id"] == odd
    assert dispatcher._outcomes_document([]) == "[]"


def test_postgresql_reads_it_as_the_document_with_every_key(db: Session, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("json_to_recordset is PostgreSQL's")
    columns = ", ".join(f"{n} {t}" for n, t in dispatcher._RECORD_PG_COLUMNS)
    read = text(
        f"SELECT * FROM json_to_recordset(CAST(:doc AS json)) AS u(id bigint, {columns})"
        " ORDER BY u.id"
    )
    variants = _outcomes()
    short = db.execute(read, {"doc": dispatcher._outcomes_document(variants)}).all()
    full = db.execute(read, {"doc": _full_document(variants)}).all()
    assert [tuple(r) for r in short] == [tuple(r) for r in full]
    assert short[2].next_attempt_at == NOW + dt.timedelta(seconds=5)
    assert short[0].url is None and short[0].pending_state is None
    assert short[0].thread_ids == [] and short[4].thread_ids == ["t1", "t2"]


def test_a_claimed_variant_takes_no_attribute_outside_its_fields() -> None:
    """``Claimed`` is slotted: a misspelt outcome field fails loudly instead of being lost."""
    c = _claimed(1)
    with pytest.raises(AttributeError):
        c.remote_idd = "r1"  # type: ignore[attr-defined]
    assert {f.name for f in dataclasses.fields(c)} >= {"remote_id", "published_at"}
