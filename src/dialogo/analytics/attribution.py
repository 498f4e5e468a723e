"""Attribution models: who gets the credit for a conversion, as pure functions over journeys.

A journey is the ordered touchpoints (channel names) a visitor went through, with the time of
each, whether it converted and the value. Every rule-based model splits each converting
journey's value among its touchpoints; :func:`markov` is data-driven (the removal effect of
each channel in a first-order Markov chain fitted on converting *and* non-converting journeys).
Every model returns ``{channel: credited value}``; the credits of a model sum to the total value
of the converting journeys (Markov: of those with at least one touchpoint).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"


@dataclasses.dataclass(frozen=True)
class Journey:
    touchpoints: tuple[str, ...]
    converted: bool = True
    value: float = 1.0
    #: Hours from each touchpoint to the conversion (time decay); same length as touchpoints.
    hours_before: tuple[float, ...] = ()


Weights = Callable[[Journey], list[float]]


def _split(journeys: Sequence[Journey], weights: Weights) -> dict[str, float]:
    credit: dict[str, float] = defaultdict(float)
    for journey in journeys:
        if not journey.converted or not journey.touchpoints:
            continue
        w = np.asarray(weights(journey), dtype=np.float64)
        w = w / w.sum()
        for channel, share in zip(journey.touchpoints, w, strict=True):
            credit[channel] += journey.value * float(share)
    return dict(credit)


def last_touch(journeys: Sequence[Journey]) -> dict[str, float]:
    return _split(journeys, lambda j: [0.0] * (len(j.touchpoints) - 1) + [1.0])


def first_touch(journeys: Sequence[Journey]) -> dict[str, float]:
    return _split(journeys, lambda j: [1.0] + [0.0] * (len(j.touchpoints) - 1))


def linear(journeys: Sequence[Journey]) -> dict[str, float]:
    return _split(journeys, lambda j: [1.0] * len(j.touchpoints))


def time_decay(journeys: Sequence[Journey], half_life_hours: float = 168.0) -> dict[str, float]:
    """Weights halve every ``half_life_hours`` before the conversion (default 7 days)."""

    def weights(j: Journey) -> list[float]:
        hours = j.hours_before or tuple(
            float(len(j.touchpoints) - 1 - i) for i in range(len(j.touchpoints))
        )
        if len(hours) != len(j.touchpoints):
            raise ValueError("hours_before must have one entry per touchpoint")
        return [math.pow(0.5, h / half_life_hours) for h in hours]

    return _split(journeys, weights)


def position_based(
    journeys: Sequence[Journey], first: float = 0.4, last: float = 0.4
) -> dict[str, float]:
    """U-shaped: ``first`` to the first touch, ``last`` to the last, the rest shared evenly by
    those in between (a journey of two splits first/last proportionally; of one, all)."""

    def weights(j: Journey) -> list[float]:
        n = len(j.touchpoints)
        if n == 1:
            return [1.0]
        if n == 2:
            return [first, last]
        middle = (1.0 - first - last) / (n - 2)
        return [first] + [middle] * (n - 2) + [last]

    return _split(journeys, weights)


def _conversion_probability(
    transitions: dict[str, dict[str, float]], removed: str | None = None
) -> float:
    """P(reaching CONVERSION from START) in the chain, with ``removed`` sending to NULL."""
    states = sorted({s for s in transitions} | {t for row in transitions.values() for t in row})
    transient = [s for s in states if s not in (CONVERSION, NULL)]
    index = {s: i for i, s in enumerate(transient)}
    n = len(transient)
    q = np.zeros((n, n))
    r = np.zeros(n)
    for s in transient:
        if s == removed:
            continue  # a removed channel absorbs into NULL: no way on to a conversion
        row = transitions.get(s, {})
        total = sum(row.values())
        if total == 0:
            continue
        for t, count in row.items():
            p = count / total
            if t == CONVERSION:
                r[index[s]] += p
            elif t in index and t != removed:
                q[index[s], index[t]] += p
    solution = np.linalg.solve(np.eye(n) - q, r)
    return float(solution[index[START]])


def markov(journeys: Sequence[Journey]) -> dict[str, float]:
    """Data-driven attribution by removal effect (Anderl et al. 2016): the drop in conversion
    probability when a channel is removed, normalised, times the converted value."""
    transitions: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    total_value = 0.0
    for journey in journeys:
        if not journey.touchpoints:
            continue
        path = [START, *journey.touchpoints, CONVERSION if journey.converted else NULL]
        for a, b in itertools.pairwise(path):
            transitions[a][b] += 1.0
        if journey.converted:
            total_value += journey.value
    if not transitions or total_value == 0:
        return {}
    base = _conversion_probability(transitions)
    channels = sorted({c for j in journeys for c in j.touchpoints})
    effects = {c: max(0.0, base - _conversion_probability(transitions, c)) for c in channels}
    total = sum(effects.values())
    if total == 0:
        return {c: 0.0 for c in channels}
    return {c: total_value * e / total for c, e in effects.items()}


MODELS: dict[str, Callable[[Sequence[Journey]], dict[str, float]]] = {
    "last_touch": last_touch,
    "first_touch": first_touch,
    "linear": linear,
    "time_decay": time_decay,
    "position_based": position_based,
    "markov": markov,
}


def compare(journeys: Sequence[Journey]) -> dict[str, dict[str, float]]:
    """Every model side by side: ``{model: {channel: credit}}``."""
    return {name: model(journeys) for name, model in MODELS.items()}
