"""Priority of a conversation, with its reasons: pure functions, no session.

The score adds a fixed weight per reason; the reasons are shown next to the conversation so a
person sees *why* it is on top, and can disagree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math


class Reason(enum.StrEnum):
    question = "question"
    complaint = "complaint"
    negative = "negative"  # negative sentiment
    reach = "reach"  # the author has a large audience
    waiting = "waiting"  # waiting for an answer for long


WEIGHTS: dict[Reason, int] = {
    Reason.complaint: 40,
    Reason.question: 25,
    Reason.negative: 20,
    Reason.reach: 15,
    Reason.waiting: 10,
}
#: Sentiment at or below this is "negative".
NEGATIVE_BELOW = -0.25
#: Followers from which an author's reach raises the priority.
REACH_FROM = 10_000
#: Waiting at least this long raises the priority (one step per doubling beyond it).
WAITING_FROM = dt.timedelta(hours=1)


@dataclasses.dataclass(frozen=True)
class Priority:
    score: int
    reasons: tuple[str, ...]


def content_priority(
    *,
    is_question: bool,
    is_complaint: bool,
    sentiment: float | None,
    followers: int | None,
) -> Priority:
    """What the messages themselves say (stored at ingest)."""
    reasons: list[Reason] = []
    if is_complaint:
        reasons.append(Reason.complaint)
    if is_question:
        reasons.append(Reason.question)
    if sentiment is not None and sentiment <= NEGATIVE_BELOW:
        reasons.append(Reason.negative)
    if followers is not None and followers >= REACH_FROM:
        reasons.append(Reason.reach)
    return Priority(sum(WEIGHTS[r] for r in reasons), tuple(r.value for r in reasons))


def with_waiting(base: Priority, waiting_since: dt.datetime | None, now: dt.datetime) -> Priority:
    """Add the waiting time, which grows while nobody answers (computed when shown)."""
    if waiting_since is None:
        return base
    waited = now - waiting_since
    if waited < WAITING_FROM:
        return base
    steps = 1 + int(math.log2(waited / WAITING_FROM))
    bonus = WEIGHTS[Reason.waiting] * min(steps, 4)
    return Priority(base.score + bonus, (*base.reasons, Reason.waiting.value))
