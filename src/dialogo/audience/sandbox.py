"""Profiles of the sandbox audience: the simulated people who follow or engaged with the brand
become contacts (identity ``sandbox`` / ``u<person>``, as the inbox links message authors) with
the demographics and interests the simulation gave them (``source="sandbox"``).

Used by the demo step; a real network gives no demographics, so this exists only for the
sandbox. Idempotent: running it again adds only the people not seen before and never
overwrites what a person declared or a CRM import set.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from dialogo.audience.models import ContactInterest, ContactProfile
from dialogo.audience.service import _SEXES, age_band
from dialogo.inbox.models import Contact, ContactIdentity
from dialogo.simulation.world import World

NETWORK = "sandbox"
CHUNK = 500


def ensure_contacts(
    session: Session, workspace_id: int, world: World, people: Iterable[int], now: dt.datetime
) -> dict[int, int]:
    """person → contact id for ``people``, creating the missing contacts and identities."""
    wanted = sorted({int(p) for p in people})
    remote = {world.population.remote_id(p): p for p in wanted}
    found: dict[int, int] = {}
    keys = list(remote)
    for start in range(0, len(keys), CHUNK):
        for rid, contact_id in session.execute(
            select(ContactIdentity.remote_id, ContactIdentity.contact_id).where(
                ContactIdentity.workspace_id == workspace_id,
                ContactIdentity.network == NETWORK,
                ContactIdentity.remote_id.in_(keys[start : start + CHUNK]),
            )
        ):
            found[remote[rid]] = int(contact_id)
    missing = [p for p in wanted if p not in found]
    if missing:
        authors = [world.author(p) for p in missing]
        ids = session.scalars(
            insert(Contact).returning(Contact.id, sort_by_parameter_order=True),
            [
                {
                    "workspace_id": workspace_id,
                    "display_name": a["display_name"][:255],
                    "created_at": now,
                    "updated_at": now,
                }
                for a in authors
            ],
        ).all()
        session.execute(
            insert(ContactIdentity),
            [
                {
                    "contact_id": int(cid),
                    "workspace_id": workspace_id,
                    "network": NETWORK,
                    "remote_id": a["remote_id"],
                    "handle": a["handle"][:255],
                    "display_name": a["display_name"][:255],
                    "followers": a["followers"],
                    "created_at": now,
                    "updated_at": now,
                }
                for cid, a in zip(ids, authors, strict=True)
            ],
        )
        found.update({p: int(cid) for p, cid in zip(missing, ids, strict=True)})
    return found


def sync_profiles(
    session: Session,
    workspace_id: int,
    world: World,
    contacts: Mapping[int, int],
    *,
    engagement: Mapping[int, tuple[int, dt.datetime | None]] | None = None,
    now: dt.datetime,
) -> int:
    """Give every contact of ``contacts`` (person → contact id) a profile with the simulated
    demographics and interests where it has none; refresh engagement counts. Returns how many
    profiles were created."""
    engagement = engagement or {}
    pop = world.population
    by_contact = {cid: person for person, cid in contacts.items()}
    existing: dict[int, ContactProfile] = {}
    ids = list(by_contact)
    for start in range(0, len(ids), CHUNK):
        for profile in session.scalars(
            select(ContactProfile).where(ContactProfile.contact_id.in_(ids[start : start + CHUNK]))
        ):
            existing[profile.contact_id] = profile
    have_interest: set[tuple[int, str]] = set()
    for start in range(0, len(ids), CHUNK):
        for cid, interest in session.execute(
            select(ContactInterest.contact_id, ContactInterest.interest).where(
                ContactInterest.contact_id.in_(ids[start : start + CHUNK])
            )
        ):
            have_interest.add((int(cid), interest))
    new_profiles: list[dict[str, object]] = []
    new_interests: list[dict[str, object]] = []
    for cid, person in sorted(by_contact.items()):
        info = pop.profile(person)
        count, last = engagement.get(person, (0, None))
        found = existing.get(cid)
        if found is None:
            band, low, high = age_band(info["age_band"])
            new_profiles.append(
                {
                    "contact_id": cid,
                    "workspace_id": workspace_id,
                    "first_name": pop.first_name_of(person)[:120],
                    "age_band": band,
                    "age_min": low,
                    "age_max": high,
                    "sex": _SEXES.get(str(info["sex"]).lower()),
                    "place": str(info["place"])[:120],
                    "region": str(info["region"])[:120],
                    "country": str(info["country"])[:2],
                    "source": "sandbox",
                    "engagement_count": count,
                    "last_engaged_at": last,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        else:
            found.engagement_count = max(found.engagement_count, count)
            if last is not None and (found.last_engaged_at is None or found.last_engaged_at < last):
                found.last_engaged_at = last
        for interest, score in info["interests"].items():
            if (cid, interest) not in have_interest:
                new_interests.append(
                    {
                        "contact_id": cid,
                        "interest": interest,
                        "workspace_id": workspace_id,
                        "score": float(score),
                        "source": "sandbox",
                    }
                )
    if new_profiles:
        session.execute(insert(ContactProfile), new_profiles)
    if new_interests:
        session.execute(insert(ContactInterest), new_interests)
    session.flush()
    return len(new_profiles)
