"""Receptiveness: which segments respond *because* they are targeted, learnt from past
campaigns with a random control group (experiments), with uplift models
(:mod:`dialogo.audience.uplift`).

An experiment is imported (CSV: who was exposed, who responded) or, for sandbox channels,
simulated (:mod:`dialogo.audience.campaign_sandbox`). :func:`rank_segments` fits the chosen
model on the experiment, scores every contact of the workspace from their profile (age band,
sex, region, country, interests) and ranks segments — the saved ones and one per age band,
sex, region and interest — by expected incremental response per person reached. The model's
Qini coefficient and AUUC come from out-of-fold predictions on the experiment itself.

Who may do what: ``audience.read`` to read experiments and rankings, ``audience.manage`` to
import, simulate or delete them. Services flush; the caller commits.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from dialogo.accounts.audit import record
from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.audience import uplift
from dialogo.audience.models import (
    ContactInterest,
    ContactProfile,
    Experiment,
    ExperimentUnit,
    Segment,
)
from dialogo.audience.service import members_query
from dialogo.core.clock import utcnow
from dialogo.core.errors import Conflict, InvalidInput, NotFound
from dialogo.core.i18n import N_
from dialogo.inbox.models import Contact, ContactIdentity

#: The labels of the segments built from one profile field (``SegmentUplift.facet``), with the
#: field's value as ``%(value)s``: ``label`` holds the English one, pages word it in theirs.
FACET_LABELS = {
    "age_band": N_("age %(value)s"),
    "sex": N_("sex %(value)s"),
    "region": N_("region %(value)s"),
    "interest": N_("interest:%(value)s"),
}
MIN_SEGMENT = 20
MAX_UNITS = 500_000
_TRUE = {"1", "true", "yes", "y", "t", "treated", "si", "sì"}
_FALSE = {"0", "false", "no", "n", "f", "control", ""}


# --- experiments ----------------------------------------------------------------------------


def _store(
    session: Session,
    workspace_id: int,
    name: str,
    topic: str | None,
    source: str,
    units: Sequence[tuple[int, bool, bool]],
) -> Experiment:
    name = name.strip()
    if not name:
        raise InvalidInput("an experiment needs a name", field="name")
    if session.scalar(
        select(Experiment.id).where(
            Experiment.workspace_id == workspace_id, Experiment.name == name
        )
    ):
        raise Conflict(f"an experiment named {name!r} exists already")
    treated = [u for u in units if u[1]]
    control = [u for u in units if not u[1]]
    experiment = Experiment(
        workspace_id=workspace_id,
        name=name[:120],
        topic=topic,
        source=source,
        treated=len(treated),
        control=len(control),
        responded_treated=sum(1 for u in treated if u[2]),
        responded_control=sum(1 for u in control if u[2]),
        created_at=utcnow(),
    )
    session.add(experiment)
    session.flush()
    rows = [
        {"experiment_id": experiment.id, "contact_id": c, "treated": t, "responded": r}
        for c, t, r in units
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(ExperimentUnit), rows[start : start + 5000])
    session.flush()
    return experiment


def _flag(text: str) -> bool | None:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def import_experiment_csv(
    session: Session,
    principal: Principal,
    workspace_id: int,
    name: str,
    content: str,
    *,
    topic: str | None = None,
) -> Experiment:
    """An experiment from CSV with a header: a contact column (``contact_id``, ``email`` or
    ``external_id``), ``treated`` and ``responded`` (1/0, true/false, yes/no). Every line is
    checked first; any bad line raises :class:`InvalidInput` listing the lines, and nothing is
    stored."""
    authorize(session, principal, workspace_id, Permission.audience_manage)
    reader = csv.reader(io.StringIO(content))
    try:
        header = [h.strip().lstrip("\ufeff").lower() for h in next(reader)]
    except StopIteration:
        raise InvalidInput("the file is empty", errors=[{"line": 1, "message": "empty"}]) from None
    key = next((k for k in ("contact_id", "email", "external_id") if k in header), None)
    missing = [c for c in ("treated", "responded") if c not in header]
    if key is None or missing:
        wanted = ", ".join(missing + ([] if key else ["contact_id, email or external_id"]))
        raise InvalidInput(
            f"the header lacks {wanted}", errors=[{"line": 1, "message": f"missing: {wanted}"}]
        )
    at_key, at_t, at_r = header.index(key), header.index("treated"), header.index("responded")
    lookup = _contact_lookup(session, workspace_id, key)
    errors: list[dict[str, Any]] = []
    units: dict[int, tuple[int, bool, bool]] = {}
    first_line: dict[int, int] = {}
    line = 1
    try:
        for row in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                errors.append(
                    {"line": start, "message": f"{len(row)} fields, the header has {len(header)}"}
                )
                continue
            problems = []
            ident = row[at_key].strip()
            contact = lookup(ident)
            if contact is None:
                problems.append(f"no contact with {key} {ident!r}")
            treated, responded = _flag(row[at_t]), _flag(row[at_r])
            if treated is None:
                problems.append(f"treated {row[at_t]!r} is not yes or no")
            if responded is None:
                problems.append(f"responded {row[at_r]!r} is not yes or no")
            if contact is not None and contact in units:
                problems.append(f"contact already on line {first_line[contact]}")
            if problems:
                errors.append({"line": start, "message": "; ".join(problems)})
                continue
            assert contact is not None and treated is not None and responded is not None
            units[contact] = (contact, treated, responded)
            first_line[contact] = start
            if len(units) > MAX_UNITS:
                raise InvalidInput(f"at most {MAX_UNITS} people per experiment")
    except csv.Error as error:
        errors.append({"line": reader.line_num, "message": f"unreadable CSV: {error}"})
    if errors:
        lines = ", ".join(str(e["line"]) for e in errors[:10])
        raise InvalidInput(
            f"{len(errors)} bad row(s) (lines {lines}{' …' if len(errors) > 10 else ''}); "
            "nothing was imported",
            errors=errors,
        )
    if not units:
        raise InvalidInput("the file has no rows", errors=[{"line": 2, "message": "no rows"}])
    experiment = _store(session, workspace_id, name, topic, "import", list(units.values()))
    record(
        session,
        "audience.experiment_imported",
        entity_type="experiment",
        entity_id=str(experiment.id),
        workspace_id=workspace_id,
        details={"treated": experiment.treated, "control": experiment.control},
    )
    return experiment


def _contact_lookup(session: Session, workspace_id: int, key: str) -> Any:
    if key == "contact_id":
        ids = set(session.scalars(select(Contact.id).where(Contact.workspace_id == workspace_id)))

        def by_id(text: str) -> int | None:
            return int(text) if text.isdigit() and int(text) in ids else None

        return by_id
    column = ContactProfile.email if key == "email" else ContactProfile.external_id
    known = {
        str(v).strip().lower(): int(c)
        for v, c in session.execute(
            select(column, ContactProfile.contact_id).where(
                ContactProfile.workspace_id == workspace_id, column.is_not(None)
            )
        )
    }

    def by_value(text: str) -> int | None:
        return known.get(text.strip().lower())

    return by_value


def simulate_sandbox_experiment(
    session: Session,
    workspace_id: int,
    world: Any,
    topic: str,
    *,
    name: str | None = None,
    seed: int = 0,
) -> Experiment | None:
    """Internal (the boundary authorises): a simulated campaign on ``topic`` with a random
    control group over the workspace's sandbox contacts, stored as an experiment (``None``
    when there are no sandbox contacts, or the experiment exists already)."""
    from dialogo.audience.campaign_sandbox import simulate_campaign

    name = name or f"Sandbox campaign: {topic}"
    if session.scalar(
        select(Experiment.id).where(
            Experiment.workspace_id == workspace_id, Experiment.name == name
        )
    ):
        return None
    person_of: dict[int, int] = {}
    for remote, contact in session.execute(
        select(ContactIdentity.remote_id, ContactIdentity.contact_id).where(
            ContactIdentity.workspace_id == workspace_id, ContactIdentity.network == "sandbox"
        )
    ):
        if re.fullmatch(r"u\d+", remote) and int(remote[1:]) < world.population.size:
            person_of[int(remote[1:])] = int(contact)
    if not person_of:
        return None
    campaign = simulate_campaign(
        world, np.array(sorted(person_of), dtype=np.int64), topic, seed=seed
    )
    units = [
        (person_of[int(p)], bool(t), bool(r))
        for p, t, r in zip(campaign.people, campaign.treated, campaign.responded, strict=True)
    ]
    return _store(session, workspace_id, name, topic, "sandbox", units)


def list_experiments(session: Session, principal: Principal, workspace_id: int) -> list[Experiment]:
    authorize(session, principal, workspace_id, Permission.audience_read)
    return list(
        session.scalars(
            select(Experiment)
            .where(Experiment.workspace_id == workspace_id)
            .order_by(Experiment.created_at.desc(), Experiment.id.desc())
        )
    )


def get_experiment(
    session: Session, principal: Principal, workspace_id: int, experiment_id: int
) -> Experiment:
    authorize(session, principal, workspace_id, Permission.audience_read)
    experiment = session.get(Experiment, experiment_id)
    if experiment is None or experiment.workspace_id != workspace_id:
        raise NotFound("no such experiment")
    return experiment


def delete_experiment(
    session: Session, principal: Principal, workspace_id: int, experiment_id: int
) -> None:
    experiment = get_experiment(session, principal, workspace_id, experiment_id)
    authorize(session, principal, workspace_id, Permission.audience_manage)
    session.execute(delete(ExperimentUnit).where(ExperimentUnit.experiment_id == experiment.id))
    session.delete(experiment)
    session.flush()


# --- ranking --------------------------------------------------------------------------------


def contact_features(
    session: Session, workspace_id: int, contact_ids: Iterable[int] | None = None
) -> dict[int, dict[str, float | str]]:
    """What the model sees of each contact with a profile: age band, sex, region, country
    (one-hot) and interest scores (the highest per interest, whatever its source)."""
    query = select(
        ContactProfile.contact_id,
        ContactProfile.age_band,
        ContactProfile.sex,
        ContactProfile.region,
        ContactProfile.country,
    ).where(ContactProfile.workspace_id == workspace_id)
    wanted = set(contact_ids) if contact_ids is not None else None
    rows: dict[int, dict[str, float | str]] = {}
    for cid, band, sex, region, country in session.execute(query):
        if wanted is not None and cid not in wanted:
            continue
        row: dict[str, float | str] = {}
        for field, value in (("age_band", band), ("sex", sex), ("region", region)):
            if value:
                row[field] = str(value).lower()
        if country:
            row["country"] = str(country).upper()
        rows[int(cid)] = row
    for cid, interest, score in session.execute(
        select(ContactInterest.contact_id, ContactInterest.interest, ContactInterest.score).where(
            ContactInterest.workspace_id == workspace_id
        )
    ):
        found = rows.get(int(cid))
        if found is not None:
            key = f"interest:{interest}"
            found[key] = max(float(found.get(key, 0.0)), float(score))
    return rows


@dataclasses.dataclass(frozen=True)
class SegmentUplift:
    label: str
    expression: str
    saved: bool
    size: int  # contacts of the workspace with a profile in the segment
    uplift: float  # mean predicted uplift: incremental responses per person reached
    incremental: float  # expected incremental responses if the whole segment is targeted
    observed: float | None  # uplift measured in the experiment (rate treated − rate control)
    treated: int
    control: int
    # A segment of one profile field (not saved): the field (a key of FACET_LABELS), its value.
    facet: str | None = None
    value: str | None = None


@dataclasses.dataclass(frozen=True)
class Candidate:
    label: str  # in English: the saved segment's name, or the facet's label
    expression: str
    saved: bool
    facet: str | None = None
    value: str | None = None


def _facet(facet: str, value: str, expression: str) -> Candidate:
    return Candidate(FACET_LABELS[facet] % {"value": value}, expression, False, facet, value)


@dataclasses.dataclass(frozen=True)
class Receptiveness:
    experiment_id: int
    experiment: str
    topic: str | None
    model: str
    units: int
    qini: float  # out-of-fold Qini coefficient (people × responses)
    qini_normalised: float  # Qini coefficient / the best possible ranking's (0 … 1)
    auuc: float
    baseline_uplift: float  # treated − control response rate over the whole experiment
    curve: list[tuple[int, float]]  # Qini curve, at most 51 points
    segments: list[SegmentUplift]


def candidate_segments(
    session: Session, workspace_id: int, features: dict[int, dict[str, float | str]]
) -> list[Candidate]:
    """The saved segments, then one per age band, sex, region (the 10 largest) and interest
    present on at least :data:`MIN_SEGMENT` profiles."""
    out = [
        Candidate(s.name, s.expression, True)
        for s in session.scalars(
            select(Segment).where(Segment.workspace_id == workspace_id).order_by(Segment.name)
        )
    ]
    counts: dict[tuple[str, str], int] = {}
    for row in features.values():
        for key, value in row.items():
            if key.startswith("interest:"):
                counts[("interest", key.split(":", 1)[1])] = (
                    counts.get(("interest", key.split(":", 1)[1]), 0) + 1
                )
            elif key in ("age_band", "sex", "region"):
                counts[(key, str(value))] = counts.get((key, str(value)), 0) + 1
    regions = sorted(
        (k for k in counts if k[0] == "region" and counts[k] >= MIN_SEGMENT),
        key=lambda k: -counts[k],
    )[:10]
    for (kind, value), n in sorted(counts.items()):
        if n < MIN_SEGMENT or (kind == "region" and (kind, value) not in regions):
            continue
        if kind == "age_band":
            out.append(_facet(kind, value, f"age {value}"))
        elif kind == "sex":
            out.append(_facet(kind, value, f"sex = {value}"))
        elif kind == "region":
            out.append(_facet(kind, value, f'region = "{value}"'))
        elif re.fullmatch(r"[\w\-]+", value):
            out.append(_facet(kind, value, f"interest:{value}"))
    return out


def rank_segments(
    session: Session,
    principal: Principal,
    workspace_id: int,
    experiment_id: int,
    *,
    model: str = "two_model",
) -> Receptiveness:
    """Fit ``model`` (``two_model`` or ``class_transformation``) on the experiment and rank
    segments by mean predicted uplift (see the module docstring)."""
    experiment = get_experiment(session, principal, workspace_id, experiment_id)
    if model not in uplift.MODELS:
        raise InvalidInput(
            f"unknown model {model!r}: use {' or '.join(uplift.MODELS)}", field="model"
        )
    units = session.execute(
        select(ExperimentUnit.contact_id, ExperimentUnit.treated, ExperimentUnit.responded)
        .where(ExperimentUnit.experiment_id == experiment.id)
        .order_by(ExperimentUnit.contact_id)
    ).all()
    features = contact_features(session, workspace_id)
    units = [u for u in units if int(u[0]) in features]
    if not units:
        raise InvalidInput("no one in this experiment has a profile to learn from")
    ids = sorted(features)
    index = {cid: i for i, cid in enumerate(ids)}
    matrix, _ = uplift.features([features[c] for c in ids])
    rows = np.array([index[int(u[0])] for u in units], dtype=np.int64)
    treated = np.array([bool(u[1]) for u in units], dtype=np.bool_)
    responded = np.array([bool(u[2]) for u in units], dtype=np.bool_)
    x_units = matrix[rows]  # type: ignore[index]
    try:
        oof = uplift.cross_fit(model, x_units, treated, responded)
        fitted = uplift.FITTERS[model](x_units, treated, responded)
    except uplift.UpliftError as exc:
        raise InvalidInput(str(exc)) from None
    predicted = fitted.predict(matrix)
    qini = uplift.qini_coefficient(oof, treated, responded)
    best = uplift.qini_coefficient(
        (treated & responded).astype(np.float64) - (~treated & responded).astype(np.float64),
        treated,
        responded,
    )
    x, q = uplift.qini_curve(oof, treated, responded)
    pick = np.unique(np.linspace(0, x.size - 1, num=min(51, x.size)).round().astype(np.int64))
    now = utcnow()
    segments: list[SegmentUplift] = []
    unit_member = np.zeros(len(units), dtype=np.bool_)
    unit_pos = {int(u[0]): i for i, u in enumerate(units)}
    for candidate in candidate_segments(session, workspace_id, features):
        members = [
            int(c)
            for c in session.scalars(members_query(workspace_id, candidate.expression, now))
            if int(c) in index
        ]
        if len(members) < (1 if candidate.saved else MIN_SEGMENT):
            continue
        values = predicted[[index[c] for c in members]]
        unit_member[:] = False
        for c in members:
            if c in unit_pos:
                unit_member[unit_pos[c]] = True
        observed, n_t, n_c = uplift.segment_uplift(unit_member, treated, responded)
        segments.append(
            SegmentUplift(
                label=candidate.label,
                expression=candidate.expression,
                saved=candidate.saved,
                size=len(members),
                uplift=float(values.mean()),
                incremental=float(values.sum()),
                observed=observed,
                treated=n_t,
                control=n_c,
                facet=candidate.facet,
                value=candidate.value,
            )
        )
    segments.sort(key=lambda s: (-s.uplift, s.label))
    baseline, _, _ = uplift.segment_uplift(np.ones(len(units), np.bool_), treated, responded)
    return Receptiveness(
        experiment_id=experiment.id,
        experiment=experiment.name,
        topic=experiment.topic,
        model=model,
        units=len(units),
        qini=qini,
        qini_normalised=qini / best if best > 0 else 0.0,
        auuc=uplift.auuc(oof, treated, responded),
        baseline_uplift=baseline or 0.0,
        curve=[(int(x[i]), float(q[i])) for i in pick],
        segments=segments,
    )
