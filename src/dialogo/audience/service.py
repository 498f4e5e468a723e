"""Audience: contact profiles, CRM import, segments (size, overlap, members), custom-audience
exports, and the GDPR export and erasure of one person.

Who may do what: ``audience.read`` to read profiles and evaluate segments, ``audience.manage``
to import and save segments, ``audience.export`` to download hashed audiences or a person's
data, ``workspace.update`` (owners and admins) to erase a person. Services flush; the caller
commits.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from dialogo.accounts.audit import record
from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.audience import exports
from dialogo.audience.models import ContactInterest, ContactProfile, Segment
from dialogo.audience.segments import parse
from dialogo.core.clock import utcnow
from dialogo.core.errors import Conflict, InvalidInput, NotFound
from dialogo.inbox.models import Contact, ContactIdentity, Conversation, Message

FIELDS = (
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "display_name",
    "age",
    "age_band",
    "sex",
    "place",
    "region",
    "country",
    "postal_code",
    "interests",
    "last_engaged_at",
)
_SEXES = {
    "f": "female",
    "female": "female",
    "femmina": "female",
    "donna": "female",
    "m": "male",
    "male": "male",
    "maschio": "male",
    "uomo": "male",
    "x": "other",
    "other": "other",
    "altro": "other",
}
AGE_BANDS = ((13, 17), (18, 24), (25, 34), (35, 44), (45, 54), (55, 64), (65, 120))
MAX_IMPORT_ROWS = 200_000


# --- profiles -------------------------------------------------------------------------------


def age_band(value: str) -> tuple[str, int, int]:
    """``"29"`` → ``("25-34", 25, 34)``; ``"25-34"`` and ``"65+"`` are kept as given."""
    text = value.strip().replace(" ", "")
    if re.fullmatch(r"\d{1,3}", text):
        age = int(text)
        for low, high in AGE_BANDS:
            if low <= age <= high:
                return (f"{low}+" if high >= 120 else f"{low}-{high}"), low, high
        raise ValueError(f"age {age} is outside 13 … 120")
    match = re.fullmatch(r"(\d{1,3})-(\d{1,3})", text)
    if match and int(match[1]) <= int(match[2]):
        return text, int(match[1]), int(match[2])
    match = re.fullmatch(r"(\d{1,3})\+", text)
    if match:
        return text, int(match[1]), 120
    raise ValueError(f"{value!r} is not an age or an age band like 25-34")


def get_profile(
    session: Session, principal: Principal, workspace_id: int, contact_id: int
) -> tuple[Contact, ContactProfile | None, list[ContactInterest]]:
    authorize(session, principal, workspace_id, Permission.audience_read)
    contact = _contact(session, workspace_id, contact_id)
    return contact, session.get(ContactProfile, contact.id), _interests(session, contact.id)


def _contact(session: Session, workspace_id: int, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None or contact.workspace_id != workspace_id:
        raise NotFound("no such contact")
    return contact


def _interests(session: Session, contact_id: int) -> list[ContactInterest]:
    return list(
        session.scalars(
            select(ContactInterest)
            .where(ContactInterest.contact_id == contact_id)
            .order_by(ContactInterest.interest)
        )
    )


# --- CRM import -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


@dataclasses.dataclass
class _Row:
    line: int
    values: dict[str, Any]


def _parse_row(values: dict[str, str], line: int, errors: list[dict[str, Any]]) -> _Row | None:
    out: dict[str, Any] = {}
    problems: list[str] = []
    for field, raw in values.items():
        text = raw.strip()
        if not text:
            continue
        if field == "email":
            email = exports.normalise_email(text)
            if email is None or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                problems.append(f"email {text!r} is not an e-mail address")
            else:
                out["email"] = email
        elif field in ("age", "age_band"):
            try:
                out["age_band"], out["age_min"], out["age_max"] = age_band(text)
            except ValueError as error:
                problems.append(str(error))
        elif field == "sex":
            sex = _SEXES.get(text.lower())
            if sex is None:
                problems.append(f"sex {text!r} is not one of f, m, x")
            else:
                out["sex"] = sex
        elif field == "country":
            if not re.fullmatch(r"[A-Za-z]{2}", text):
                problems.append(f"country {text!r} is not a two-letter ISO code")
            else:
                out["country"] = text.upper()
        elif field == "phone":
            if exports.normalise_phone(text, values.get("country") or "IT") is None:
                problems.append(f"phone {text!r} is not a phone number")
            else:
                out["phone"] = text
        elif field == "interests":
            names = [n.strip().lower() for n in re.split(r"[;|]", text) if n.strip()]
            if any(not re.fullmatch(r"[\w\-]{1,80}", n) for n in names):
                problems.append(f"interests {text!r}: use names separated by ';'")
            else:
                out["interests"] = sorted(set(names))
        elif field == "last_engaged_at":
            try:
                when = dt.datetime.fromisoformat(text)
            except ValueError:
                problems.append(f"last_engaged_at {text!r} is not an ISO date")
            else:
                out["last_engaged_at"] = (
                    when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
                )
        else:
            out[field] = text[:255]
    if not problems and not (out.get("email") or out.get("phone") or out.get("external_id")):
        problems.append("the row has no email, phone or external id")
    if problems:
        errors.append({"line": line, "message": "; ".join(problems)})
        return None
    return _Row(line, out)


def import_csv(
    session: Session,
    principal: Principal,
    workspace_id: int,
    content: str,
    mapping: Mapping[str, str],
) -> ImportResult:
    """Import contacts from CSV. ``mapping`` maps a CSV column to one of :data:`FIELDS`
    (unmapped columns are ignored). Every row is checked first: any bad row raises
    :class:`InvalidInput` listing the bad lines, and nothing is written."""
    authorize(session, principal, workspace_id, Permission.audience_manage)
    unknown = sorted(set(mapping.values()) - set(FIELDS))
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(unknown)}", fields=list(FIELDS))
    reader = csv.reader(io.StringIO(content))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("the file is empty", errors=[{"line": 1, "message": "empty"}]) from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    missing = sorted(set(mapping) - set(header))
    if missing:
        raise InvalidInput(
            f"column(s) not in the file: {', '.join(missing)}",
            errors=[{"line": 1, "message": f"missing columns: {', '.join(missing)}"}],
        )
    positions = {header.index(column): field for column, field in mapping.items()}
    errors: list[dict[str, Any]] = []
    rows: list[_Row] = []
    seen: dict[tuple[str, str], int] = {}
    line = 1
    try:
        for record_ in reader:
            start = line + 1
            line = reader.line_num
            if not any(cell.strip() for cell in record_):
                continue
            if len(record_) != len(header):
                errors.append(
                    {
                        "line": start,
                        "message": f"{len(record_)} fields, the header has {len(header)}",
                    }
                )
                continue
            row = _parse_row({f: record_[i] for i, f in positions.items()}, start, errors)
            if row is None:
                continue
            for key in ("external_id", "email"):
                value = row.values.get(key)
                if value:
                    if (key, value) in seen:
                        errors.append(
                            {
                                "line": start,
                                "message": f"{key} {value} already on line {seen[(key, value)]}",
                            }
                        )
                    seen[(key, value)] = start
            rows.append(row)
            if len(rows) > MAX_IMPORT_ROWS:
                raise InvalidInput(f"at most {MAX_IMPORT_ROWS} rows per import")
    except csv.Error as error:
        errors.append({"line": reader.line_num, "message": f"unreadable CSV: {error}"})
    if errors:
        lines = ", ".join(str(e["line"]) for e in errors[:10])
        raise InvalidInput(
            f"{len(errors)} bad row(s) (lines {lines}{' …' if len(errors) > 10 else ''}); "
            "nothing was imported",
            errors=errors,
        )
    created = updated = 0
    now = utcnow()
    for row in rows:
        profile = _find_profile(session, workspace_id, row.values)
        if profile is None:
            name = row.values.get("display_name") or " ".join(
                str(row.values[k]) for k in ("first_name", "last_name") if row.values.get(k)
            )
            contact = Contact(workspace_id=workspace_id, display_name=name[:255])
            session.add(contact)
            session.flush()
            profile = ContactProfile(
                contact_id=contact.id, workspace_id=workspace_id, source="crm", created_at=now
            )
            session.add(profile)
            created += 1
        else:
            updated += 1
        for key, value in row.values.items():
            if key in ("interests", "display_name"):
                continue
            setattr(profile, key, value)
        profile.updated_at = now
        for interest in row.values.get("interests", []):
            if session.get(ContactInterest, (profile.contact_id, interest)) is None:
                session.add(
                    ContactInterest(
                        contact_id=profile.contact_id,
                        interest=interest,
                        workspace_id=workspace_id,
                        source="crm",
                    )
                )
    session.flush()
    record(
        session,
        "audience.imported",
        entity_type="audience",
        workspace_id=workspace_id,
        details={"created": created, "updated": updated},
    )
    return ImportResult(created, updated)


def _find_profile(
    session: Session, workspace_id: int, values: Mapping[str, Any]
) -> ContactProfile | None:
    for key in ("external_id", "email"):
        value = values.get(key)
        if value:
            found = session.scalar(
                select(ContactProfile).where(
                    ContactProfile.workspace_id == workspace_id,
                    getattr(ContactProfile, key) == value,
                )
            )
            if found is not None:
                return found
    return None


# --- segments -------------------------------------------------------------------------------


def members_query(workspace_id: int, expression: str, now: dt.datetime) -> Select[Any]:
    condition = parse(expression).condition(now)
    return (
        select(Contact.id)
        .outerjoin(ContactProfile, ContactProfile.contact_id == Contact.id)
        .where(Contact.workspace_id == workspace_id, condition)
    )


def segment_size(session: Session, principal: Principal, workspace_id: int, expression: str) -> int:
    authorize(session, principal, workspace_id, Permission.audience_read)
    query = members_query(workspace_id, expression, utcnow())
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def segment_members(
    session: Session, principal: Principal, workspace_id: int, expression: str
) -> list[int]:
    authorize(session, principal, workspace_id, Permission.audience_read)
    query = members_query(workspace_id, expression, utcnow()).order_by(Contact.id)
    return [int(i) for i in session.scalars(query)]


def list_segments(session: Session, principal: Principal, workspace_id: int) -> list[Segment]:
    authorize(session, principal, workspace_id, Permission.audience_read)
    return list(
        session.scalars(
            select(Segment).where(Segment.workspace_id == workspace_id).order_by(Segment.name)
        )
    )


def get_segment(
    session: Session, principal: Principal, workspace_id: int, segment_id: int
) -> Segment:
    authorize(session, principal, workspace_id, Permission.audience_read)
    segment = session.get(Segment, segment_id)
    if segment is None or segment.workspace_id != workspace_id:
        raise NotFound("no such segment")
    return segment


def create_segment(
    session: Session, principal: Principal, workspace_id: int, name: str, expression: str
) -> Segment:
    authorize(session, principal, workspace_id, Permission.audience_manage)
    name = name.strip()
    if not name:
        raise InvalidInput("a segment needs a name", field="name")
    parse(expression)
    if session.scalar(
        select(Segment.id).where(Segment.workspace_id == workspace_id, Segment.name == name)
    ):
        raise Conflict(f"a segment named {name!r} exists already")
    segment = Segment(workspace_id=workspace_id, name=name[:120], expression=expression.strip())
    session.add(segment)
    session.flush()
    return segment


def delete_segment(
    session: Session, principal: Principal, workspace_id: int, segment_id: int
) -> None:
    segment = get_segment(session, principal, workspace_id, segment_id)
    authorize(session, principal, workspace_id, Permission.audience_manage)
    session.delete(segment)
    session.flush()


@dataclasses.dataclass(frozen=True)
class Overlap:
    names: list[str]
    sizes: list[int]
    shared: list[list[int]]  # shared[i][j]: contacts in both i and j


def overlaps(
    session: Session, principal: Principal, workspace_id: int, segment_ids: Sequence[int]
) -> Overlap:
    segments = [get_segment(session, principal, workspace_id, i) for i in segment_ids]
    now = utcnow()
    members = [
        set(session.scalars(members_query(workspace_id, s.expression, now))) for s in segments
    ]
    return Overlap(
        names=[s.name for s in segments],
        sizes=[len(m) for m in members],
        shared=[[len(a & b) for b in members] for a in members],
    )


def export_audience(
    session: Session, principal: Principal, workspace_id: int, expression: str, fmt: str
) -> tuple[str, int]:
    """A custom-audience CSV (``meta`` or ``google``) of the segment: ``(csv, rows)``. Contacts
    without an e-mail or phone are left out (nothing to match on). Audited."""
    authorize(session, principal, workspace_id, Permission.audience_export)
    if fmt not in ("meta", "google"):
        raise InvalidInput(f"unknown export format {fmt!r}: use meta or google", field="format")
    ids = members_query(workspace_id, expression, utcnow())
    profiles = session.scalars(
        select(ContactProfile)
        .where(ContactProfile.contact_id.in_(ids.scalar_subquery()))
        .order_by(ContactProfile.contact_id)
    )
    people = [
        exports.Person(
            email=p.email,
            phone=p.phone,
            first_name=p.first_name,
            last_name=p.last_name,
            city=p.place,
            postal_code=p.postal_code,
            country=p.country,
            sex=p.sex,
        )
        for p in profiles
    ]
    content = exports.custom_audience_csv(people, fmt)
    rows = content.count("\n") - 1
    record(
        session,
        "audience.exported",
        entity_type="segment",
        workspace_id=workspace_id,
        details={"format": fmt, "expression": expression, "rows": rows},
    )
    session.flush()
    return content, rows


# --- GDPR -----------------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_person(
    session: Session, principal: Principal, workspace_id: int, contact_id: int
) -> dict[str, Any]:
    """Everything the workspace holds about one person (GDPR art. 15/20). Audited."""
    authorize(session, principal, workspace_id, Permission.audience_export)
    contact = _contact(session, workspace_id, contact_id)
    profile = session.get(ContactProfile, contact.id)
    identities = session.scalars(
        select(ContactIdentity).where(ContactIdentity.contact_id == contact.id)
    )
    messages = session.scalars(
        select(Message).where(Message.contact_id == contact.id).order_by(Message.created_at)
    )
    profile_out: dict[str, Any] | None = None
    if profile is not None:
        profile_out = {
            column: getattr(profile, column)
            for column in (
                "external_id",
                "email",
                "phone",
                "first_name",
                "last_name",
                "age_band",
                "sex",
                "place",
                "region",
                "country",
                "postal_code",
                "source",
                "engagement_count",
            )
        }
        profile_out["last_engaged_at"] = _iso(profile.last_engaged_at)
    data = {
        "contact": {
            "id": contact.id,
            "display_name": contact.display_name,
            "created_at": _iso(contact.created_at),
        },
        "identities": [
            {"network": i.network, "remote_id": i.remote_id, "handle": i.handle} for i in identities
        ],
        "profile": profile_out,
        "interests": [
            {"interest": i.interest, "score": i.score, "source": i.source}
            for i in _interests(session, contact.id)
        ],
        "messages": [
            {
                "network": m.kind,
                "direction": m.direction,
                "text": m.text,
                "url": m.url,
                "created_at": _iso(m.created_at),
            }
            for m in messages
        ],
    }
    record(
        session,
        "contact.exported",
        entity_type="contact",
        entity_id=str(contact.id),
        workspace_id=workspace_id,
    )
    session.flush()
    return data


def erase_person(
    session: Session, principal: Principal, workspace_id: int, contact_id: int
) -> dict[str, int]:
    """Erase one person (GDPR art. 17): their messages, conversations, identities, profile,
    interests and the contact itself. The audit entry keeps only ids and counts.

    Partial: tables of other domains that point at ``contacts.id`` with ``SET NULL`` keep
    their rows without the link; their owners erase their own personal data."""
    authorize(session, principal, workspace_id, Permission.workspace_update)
    contact = _contact(session, workspace_id, contact_id)
    counts = {
        "messages": session.execute(
            delete(Message).where(Message.contact_id == contact.id)
        ).rowcount,  # type: ignore[attr-defined]
        "conversations": session.execute(
            delete(Conversation).where(Conversation.contact_id == contact.id)
        ).rowcount,  # type: ignore[attr-defined]
        "identities": session.execute(
            delete(ContactIdentity).where(ContactIdentity.contact_id == contact.id)
        ).rowcount,  # type: ignore[attr-defined]
        "interests": session.execute(
            delete(ContactInterest).where(ContactInterest.contact_id == contact.id)
        ).rowcount,  # type: ignore[attr-defined]
        "profile": session.execute(
            delete(ContactProfile).where(ContactProfile.contact_id == contact.id)
        ).rowcount,  # type: ignore[attr-defined]
    }
    session.execute(delete(Contact).where(Contact.id == contact.id))
    record(
        session,
        "contact.erased",
        entity_type="contact",
        entity_id=str(contact_id),
        workspace_id=workspace_id,
        details=dict(counts),
    )
    session.flush()
    session.expire_all()
    return counts


# --- browsing -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ProfileRow:
    contact_id: int
    display_name: str
    age_band: str | None
    sex: str | None
    place: str | None
    region: str | None
    source: str | None
    engagement_count: int
    interests: list[str]


def list_profiles(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    expression: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[ProfileRow]]:
    """``(total, page)`` of the workspace's contacts with their profiles, those matching
    ``expression`` only when given (a targeting expression), most engaged first."""
    authorize(session, principal, workspace_id, Permission.audience_read)
    if not 1 <= limit <= 500 or offset < 0:
        raise InvalidInput("limit must lie in 1 … 500 and offset be positive", field="limit")
    if expression and expression.strip():
        ids = members_query(workspace_id, expression, utcnow())
    else:
        ids = select(Contact.id).where(Contact.workspace_id == workspace_id)
    total = int(session.scalar(select(func.count()).select_from(ids.subquery())) or 0)
    rows = session.execute(
        select(Contact, ContactProfile)
        .outerjoin(ContactProfile, ContactProfile.contact_id == Contact.id)
        .where(Contact.id.in_(ids.scalar_subquery()))
        .order_by(func.coalesce(ContactProfile.engagement_count, 0).desc(), Contact.id)
        .limit(limit)
        .offset(offset)
    ).all()
    interests: dict[int, list[str]] = {}
    contact_ids = [c.id for c, _ in rows]
    for cid, interest in session.execute(
        select(ContactInterest.contact_id, ContactInterest.interest)
        .where(ContactInterest.contact_id.in_(contact_ids))
        .order_by(ContactInterest.score.desc(), ContactInterest.interest)
    ):
        interests.setdefault(int(cid), []).append(interest)
    return total, [
        ProfileRow(
            contact_id=c.id,
            display_name=c.display_name,
            age_band=p.age_band if p else None,
            sex=p.sex if p else None,
            place=p.place if p else None,
            region=p.region if p else None,
            source=p.source if p else None,
            engagement_count=p.engagement_count if p else 0,
            interests=interests.get(c.id, []),
        )
        for c, p in rows
    ]
