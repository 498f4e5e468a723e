"""Receptiveness on the real database: experiments imported from CSV (bad lines reported by
number, nothing stored), segments ranked by an uplift model, interests inferred from
engagement; permissions."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User
from dialogo.accounts.permissions import Role
from dialogo.audience import interests as inferring
from dialogo.audience import receptiveness
from dialogo.audience import service as audience
from dialogo.audience.models import (
    ContactInterest,
    ContactProfile,
    Experiment,
    ExperimentUnit,
)
from dialogo.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dialogo.inbox.models import Contact
from tests.factories import add_member, make_user, make_workspace

Brand = tuple[accounts.Principal, int]


@pytest.fixture
def brand(db: Session) -> Brand:
    owner = make_user(db)
    workspace = make_workspace(db, owner)
    return accounts.Principal.for_user(owner), workspace.id


def _people(db: Session, ws: int, n: int = 600) -> list[tuple[int, bool]]:
    """``n`` contacts with profiles; a third are runners. Returns ``(contact id, runner)``."""
    out = []
    for i in range(n):
        contact = Contact(workspace_id=ws, display_name=f"P{i}")
        db.add(contact)
        db.flush()
        runner = i % 3 == 0
        db.add(
            ContactProfile(
                contact_id=contact.id,
                workspace_id=ws,
                email=f"p{i}@example.com",
                age_band="25-34" if i % 2 else "45-54",
                age_min=25 if i % 2 else 45,
                age_max=34 if i % 2 else 54,
                sex="female" if i % 4 < 2 else "male",
                region="Lazio",
                country="IT",
                source="crm",
            )
        )
        if runner:
            db.add(
                ContactInterest(
                    contact_id=contact.id, interest="running", workspace_id=ws, source="crm"
                )
            )
        out.append((contact.id, runner))
    db.flush()
    return out


def _campaign_csv(people: list[tuple[int, bool]], key: str = "contact_id") -> str:
    """Runners respond far more when treated; others barely react (seeded)."""
    rng = np.random.default_rng(5)
    lines = [f"{key},treated,responded"]
    for i, (cid, runner) in enumerate(people):
        treated = bool(rng.random() < 0.5)  # a random control group
        p = (0.55 if runner else 0.08) if treated else 0.06
        ident = str(cid) if key == "contact_id" else f"p{i}@example.com"
        lines.append(f"{ident},{'yes' if treated else 'no'},{int(rng.random() < p)}")
    return "\n".join(lines) + "\n"


def test_import_and_rank_segments_by_uplift(db: Session, brand: Brand) -> None:
    principal, ws = brand
    people = _people(db, ws)
    audience.create_segment(db, principal, ws, "Runners", "interest:running")
    experiment = receptiveness.import_experiment_csv(
        db, principal, ws, "Spring running", _campaign_csv(people, "email"), topic="running"
    )
    assert experiment.treated + experiment.control == 600
    assert min(experiment.treated, experiment.control) > 250
    assert experiment.responded_treated > experiment.responded_control
    for model in ("two_model", "class_transformation"):
        result = receptiveness.rank_segments(db, principal, ws, experiment.id, model=model)
        assert result.units == 600 and result.model == model
        assert result.qini > 0 and result.auuc > 0 and 0 < result.qini_normalised <= 1
        top = result.segments[0]
        assert top.expression == "interest:running", [s.label for s in result.segments]
        assert {s.label for s in result.segments[:2]} == {"Runners", "interest:running"}
        assert top.size == 200 and top.observed is not None and top.observed > 0.3
        assert top.treated + top.control == 200
        assert top.uplift > 0.35 and result.segments[-1].uplift < 0.25
        assert result.curve[0] == (0, 0.0) and result.curve[-1][0] == 600
    listed = receptiveness.list_experiments(db, principal, ws)
    assert [e.name for e in listed] == ["Spring running"]
    with pytest.raises(Conflict):
        receptiveness.import_experiment_csv(
            db, principal, ws, "Spring running", _campaign_csv(people)
        )
    with pytest.raises(InvalidInput, match="unknown model"):
        receptiveness.rank_segments(db, principal, ws, experiment.id, model="forest")


def test_bad_lines_are_reported_by_number_and_nothing_is_stored(db: Session, brand: Brand) -> None:
    principal, ws = brand
    people = _people(db, ws, n=30)
    good = [f"{c},1,0" for c, _ in people[:3]]
    content = "\n".join(
        [
            "contact_id,treated,responded",
            good[0],
            "999999,1,0",  # line 3: no such contact
            f"{people[1][0]},maybe,0",  # line 4: bad flag
            good[1],
            f"{people[0][0]},0,1",  # line 6: duplicate of line 2
            "1,2",  # line 7: short
        ]
    )
    with pytest.raises(InvalidInput) as caught:
        receptiveness.import_experiment_csv(db, principal, ws, "Broken", content)
    errors = caught.value.details["errors"]
    assert [e["line"] for e in errors] == [3, 4, 6, 7]
    assert "no contact" in errors[0]["message"] and "already on line 2" in errors[2]["message"]
    assert db.scalar(select(func.count()).select_from(Experiment)) == 0
    assert db.scalar(select(func.count()).select_from(ExperimentUnit)) == 0
    with pytest.raises(InvalidInput, match="header lacks"):
        receptiveness.import_experiment_csv(db, principal, ws, "x", "name,treated\na,1\n")
    with pytest.raises(InvalidInput, match="empty"):
        receptiveness.import_experiment_csv(db, principal, ws, "x", "")
    # too few people to learn from: a clear error, not a crash
    small = receptiveness.import_experiment_csv(
        db, principal, ws, "Small", "contact_id,treated,responded\n" + "\n".join(good)
    )
    with pytest.raises(InvalidInput, match="at least 10 treated"):
        receptiveness.rank_segments(db, principal, ws, small.id)


def test_permissions_and_other_workspaces(db: Session, brand: Brand) -> None:
    principal, ws = brand
    people = _people(db, ws, n=40)
    experiment = receptiveness.import_experiment_csv(db, principal, ws, "E", _campaign_csv(people))
    owner = make_user(db)
    other = make_workspace(db, owner, name="Other")
    with pytest.raises(NotFound, match="no such experiment"):
        receptiveness.get_experiment(
            db, accounts.Principal.for_user(owner), other.id, experiment.id
        )
    workspace = db.get(type(other), ws)
    assert workspace is not None
    brand_owner = db.get(User, principal.user_id)
    assert brand_owner is not None
    viewer = accounts.Principal.for_user(add_member(db, workspace, brand_owner, Role.viewer))
    assert receptiveness.list_experiments(db, viewer, ws)
    with pytest.raises(PermissionDenied):
        receptiveness.delete_experiment(db, viewer, ws, experiment.id)
    receptiveness.delete_experiment(db, principal, ws, experiment.id)
    assert db.scalar(select(func.count()).select_from(ExperimentUnit)) == 0


def test_interests_inferred_from_engagement(db: Session, brand: Brand) -> None:
    principal, ws = brand
    people = _people(db, ws, n=3)
    runner, other, quiet = (c for c, _ in people)
    result = inferring.infer_interests(
        db,
        ws,
        engagement={
            runner: {"running": 6, "coffee": 1},
            other: {"coffee": 3, "music": 1},
        },
    )
    assert result.contacts == 2 and result.confirmed == 1 and result.added >= 2
    _contact, _profile, found = audience.get_profile(db, principal, ws, runner)
    by_name = {i.interest: i for i in found}
    assert by_name["running"].source == "crm"  # declared: kept, now confirmed
    assert (
        by_name["running"].confidence == pytest.approx(6 / 8, abs=1e-4)
        and by_name["running"].evidence == 6
    )
    assert "coffee" not in by_name  # 1 of 7 items: below the minimum share
    _c, _p, found = audience.get_profile(db, principal, ws, other)
    coffee = next(i for i in found if i.interest == "coffee")
    assert (coffee.source, coffee.score, coffee.evidence) == ("inferred", 0.75, 3)
    assert coffee.confidence == pytest.approx(0.6)
    assert audience.segment_size(db, principal, ws, "interest:coffee") == 1
    # a second run replaces the inference instead of piling up
    inferring.infer_interests(db, ws, engagement={other: {"music": 2}})
    _c, _p, found = audience.get_profile(db, principal, ws, other)
    assert [(i.interest, i.source) for i in found] == [("music", "inferred")]
    _c, _p, found = audience.get_profile(db, principal, ws, runner)
    assert [(i.interest, i.confidence) for i in found] == [("running", None)]
    assert audience.get_profile(db, principal, ws, quiet)[2] == []


def test_pure_inference() -> None:
    assert inferring.infer({}) == []
    found = inferring.infer({"a": 1, "b": 9})
    assert [(i.interest, i.evidence) for i in found] == [("b", 9)]
    assert found[0].confidence == pytest.approx(9 / 11, abs=1e-4)
