"""Conversations: people expect answers, and grow more negative when ignored.

:func:`follow_up_behaviour` is the planted truth: given how long a brand took to answer (or that
it never did) and the person's patience, the chances of each way of writing again. A person
whose patience runs out before an answer chases the brand ("still no answer?"); once answered,
they thank, remark on the delay, escalate publicly or announce they are leaving, with
probabilities that get worse the later the answer came; ignored people escalate or leave.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from dialogo.simulation.clock import HourMapper

CHASE_PROBABILITY = 0.45  # chasing once patience runs out, if no answer came yet
MAX_ANSWER_HOURS = 60.0  # a team that has not answered by then never will


@dataclasses.dataclass(frozen=True)
class FollowUpBehaviour:
    """Probabilities of writing again after a question or complaint.

    ``chase``: writing again ("still waiting") before an answer comes. The rest is one
    categorical outcome once the answer arrives (or, when ignored, once patience runs out a
    second time): ``thanks`` (positive), ``late`` (thanks, but it took too long: negative),
    ``escalation`` (a public complaint), ``churn`` (announcing a switch to a competitor), and
    ``nothing``.
    """

    chase: float
    thanks: float
    late: float
    escalation: float
    churn: float

    @property
    def nothing(self) -> float:
        return max(0.0, 1.0 - self.thanks - self.late - self.escalation - self.churn)

    @property
    def negative(self) -> float:
        """Chance that at least one negative follow-up is written."""
        reaction = self.late + self.escalation + self.churn
        return 1.0 - (1.0 - self.chase) * (1.0 - reaction)

    def outcomes(self) -> tuple[tuple[str, float], ...]:
        return (
            ("thanks", self.thanks),
            ("late", self.late),
            ("escalation", self.escalation),
            ("churn", self.churn),
            ("nothing", self.nothing),
        )


def follow_up_behaviour(
    answer_delay_hours: float | None, patience_hours: float, *, negative: bool = False
) -> FollowUpBehaviour:
    """How someone reacts to an answer after ``answer_delay_hours`` (``None``: never).

    Within their patience they are mostly grateful; past it, frustration
    ``f = 1 - exp(-(delay / patience - 1) / 2)`` moves the odds from thanks to remarks about
    the delay, public escalation and churn. Being ignored is the worst case. People who wrote
    in anger (``negative``) are a little harder to please.
    """
    if patience_hours <= 0:
        raise ValueError("patience must be positive")
    anger = 0.1 if negative else 0.0
    if answer_delay_hours is None:
        return FollowUpBehaviour(
            chase=CHASE_PROBABILITY, thanks=0.0, late=0.0, escalation=0.45 + anger, churn=0.25
        )
    lateness = max(0.0, answer_delay_hours) / patience_hours
    if lateness <= 1.0:
        return FollowUpBehaviour(
            chase=0.0, thanks=0.55 - anger, late=0.03, escalation=0.0, churn=0.01
        )
    frustration = 1.0 - math.exp(-(lateness - 1.0) / 2.0)
    return FollowUpBehaviour(
        # People chase after 1–1.5 × their patience: the chance the answer comes later.
        chase=CHASE_PROBABILITY * min(1.0, 2.0 * (lateness - 1.0)),
        thanks=(0.55 - anger) * (1.0 - frustration),
        late=0.03 + 0.3 * frustration,
        escalation=(0.2 + anger) * frustration,
        churn=0.01 + 0.09 * frustration,
    )


def working_answer_time(
    mapper: HourMapper,
    received: int,
    delay_hours: float,
    working_hours: tuple[int, int],
    *,
    weekdays: int = 6,
) -> int | None:
    """When a team working ``working_hours`` (local, Monday to ``weekdays``) answers a message
    received at ``received`` (epoch seconds) after ``delay_hours`` of *working* time; ``None``
    if that is more than :data:`MAX_ANSWER_HOURS` of calendar time away."""
    first_hour = received // 3600
    horizon = int(MAX_ANSWER_HOURS) + 2
    hours = np.arange(first_hour, first_hour + horizon, dtype=np.int64)
    how = mapper.hour_of_week(hours)
    local_hour = how % 24
    working = (local_hour >= working_hours[0]) & (local_hour < working_hours[1])
    working &= how // 24 < weekdays
    seconds = np.where(working, 3600, 0).astype(np.int64)
    seconds[0] = 3600 - received % 3600 if working[0] else 0
    elapsed = np.cumsum(seconds)
    need = int(delay_hours * 3600)
    index = int(np.searchsorted(elapsed, need, side="left"))
    if index >= horizon:
        return None
    before = int(elapsed[index - 1]) if index > 0 else 0
    hour_start = int(hours[index]) * 3600
    offset = max(received, hour_start) + (need - before)
    if offset - received > MAX_ANSWER_HOURS * 3600:
        return None
    return offset
