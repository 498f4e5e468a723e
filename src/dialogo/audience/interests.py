"""Interests inferred from engagement: what a contact's messages are about
(:func:`dialogo.nlp.analyse` topics of their inbound inbox messages and of the listening
mentions they wrote) and, where a caller brings them, the topics of the posts they engaged
with (the sandbox's likes, reposts, comments and clicks on the brand's posts).

:func:`infer` is pure: per contact, counts of topical items → ``(interest, score,
confidence, evidence)`` where ``score`` is the share of the contact's topical items on that
topic and ``confidence = n / (n + PRIOR)`` grows with the ``n`` items behind it (1 item: 0.33,
4 items: 0.67, 18 items: 0.9). :func:`infer_interests` stores them (``source="inferred"``),
replacing the previous inference; an interest declared or imported keeps its score and
source and gets the inference's confidence and evidence next to it.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable, Mapping
from typing import cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from dialogo.audience.models import ContactInterest
from dialogo.inbox.models import ContactIdentity, Message
from dialogo.nlp import analyse

PRIOR = 2.0
MIN_SCORE = 0.15
MAX_PER_CONTACT = 8


@dataclasses.dataclass(frozen=True)
class Inferred:
    interest: str
    score: float
    confidence: float
    evidence: int


def infer(counts: Mapping[str, int]) -> list[Inferred]:
    """Interests of one contact from how many of their items were about each topic."""
    total = sum(n for n in counts.values() if n > 0)
    if total == 0:
        return []
    out = [
        Inferred(topic, round(n / total, 4), round(n / (n + PRIOR), 4), n)
        for topic, n in counts.items()
        if n > 0 and n / total >= MIN_SCORE
    ]
    out.sort(key=lambda i: (-i.evidence, i.interest))
    return out[:MAX_PER_CONTACT]


def message_topics(session: Session, workspace_id: int) -> dict[int, collections.Counter[str]]:
    """Per contact: topics of the inbound messages they wrote: the NLP taxonomy's topics, and
    hashtags that name an interest already known in the workspace (``#running``)."""
    out: dict[int, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    vocabulary = set(
        session.scalars(
            select(ContactInterest.interest)
            .where(ContactInterest.workspace_id == workspace_id)
            .distinct()
        )
    )

    def topics_of(found: Iterable[str]) -> set[str]:
        out_: set[str] = set()
        for topic in found:
            if not topic.startswith("#"):
                out_.add(topic)
            elif topic[1:].lower() in vocabulary:
                out_.add(topic[1:].lower())
        return out_

    rows = session.execute(
        select(Message.contact_id, Message.text, Message.language).where(
            Message.workspace_id == workspace_id,
            Message.direction == "inbound",
            Message.contact_id.is_not(None),
        )
    )
    for contact_id, text, language in rows:
        if contact_id is None:  # pragma: no cover - filtered by the query
            continue
        for topic in topics_of(analyse(text or "", language).topics):
            out[int(contact_id)][topic] += 1
    try:  # mentions (listening): matched to a contact by network handle
        from dialogo.listening.models import Mention
    except ImportError:  # pragma: no cover - listening is part of the package
        return out
    handles = {
        (network, handle.lower()): int(cid)
        for network, handle, cid in session.execute(
            select(
                ContactIdentity.network, ContactIdentity.handle, ContactIdentity.contact_id
            ).where(ContactIdentity.workspace_id == workspace_id)
        )
        if handle
    }
    for channel, handle, topics in session.execute(
        select(Mention.channel, Mention.author_handle, Mention.topics).where(
            Mention.workspace_id == workspace_id
        )
    ):
        found = handles.get((str(channel), str(handle).lower()))
        if found is None:
            continue
        for topic in topics_of(t for t in (topics or []) if isinstance(t, str)):
            out[found][topic] += 1
    return out


@dataclasses.dataclass(frozen=True)
class InferenceResult:
    contacts: int
    added: int
    confirmed: int  # declared / imported interests the engagement confirms


def infer_interests(
    session: Session,
    workspace_id: int,
    *,
    engagement: Mapping[int, Mapping[str, int]] | None = None,
) -> InferenceResult:
    """Internal (the boundary authorises): infer and store the interests of every contact
    from their messages plus ``engagement`` (contact id → topic → engaged items)."""
    counts = message_topics(session, workspace_id)
    for contact_id, topics in (engagement or {}).items():
        for topic, n in topics.items():
            counts.setdefault(int(contact_id), collections.Counter())[topic] += int(n)
    session.execute(
        delete(ContactInterest).where(
            ContactInterest.workspace_id == workspace_id, ContactInterest.source == "inferred"
        )
    )
    session.execute(
        update(ContactInterest)
        .where(ContactInterest.workspace_id == workspace_id)
        .values(confidence=None, evidence=0)
    )
    existing: set[tuple[int, str]] = {
        (int(c), i)
        for c, i in session.execute(
            select(ContactInterest.contact_id, ContactInterest.interest).where(
                ContactInterest.workspace_id == workspace_id
            )
        )
    }
    new: list[dict[str, object]] = []
    confirm: list[dict[str, object]] = []
    people = 0
    for contact_id in sorted(counts):
        found = infer(counts[contact_id])
        if found:
            people += 1
        for item in found:
            if (contact_id, item.interest) in existing:
                confirm.append(
                    {
                        "cid": contact_id,
                        "name": item.interest,
                        "confidence": item.confidence,
                        "evidence": item.evidence,
                    }
                )
            else:
                new.append(
                    {
                        "contact_id": contact_id,
                        "interest": item.interest,
                        "workspace_id": workspace_id,
                        "score": item.score,
                        "source": "inferred",
                        "confidence": item.confidence,
                        "evidence": item.evidence,
                    }
                )
    for start in range(0, len(new), 5000):
        session.execute(insert(ContactInterest), new[start : start + 5000])
    if confirm:
        # One executemany (Core, so the WHERE stays ours) instead of one UPDATE per interest.
        table = cast(Table, ContactInterest.__table__)
        session.execute(
            update(table)
            .where(table.c.contact_id == bindparam("cid"), table.c.interest == bindparam("name"))
            .values(confidence=bindparam("conf"), evidence=bindparam("ev")),
            [
                {"cid": r["cid"], "name": r["name"], "conf": r["confidence"], "ev": r["evidence"]}
                for r in confirm
            ],
        )
    session.flush()
    return InferenceResult(contacts=people, added=len(new), confirmed=len(confirm))
