"""Attribution models on journeys whose right answer is known by construction."""

from __future__ import annotations

import pytest

from dialogo.analytics import attribution as a
from dialogo.analytics.attribution import Journey

J = [
    Journey(("ig", "mail", "search"), value=100.0, hours_before=(48.0, 24.0, 0.0)),
    Journey(("mail",), value=50.0, hours_before=(2.0,)),
]


def close(x: dict[str, float], y: dict[str, float]) -> None:
    """Equal credits; a channel missing from one side has 0."""
    for k in set(x) | set(y):
        assert x.get(k, 0.0) == pytest.approx(y.get(k, 0.0), abs=1e-9), k


def test_rule_based_models() -> None:
    close(a.last_touch(J), {"search": 100.0, "mail": 50.0})
    close(a.first_touch(J), {"ig": 100.0, "mail": 50.0})
    close(a.linear(J), {"ig": 100 / 3, "mail": 100 / 3 + 50, "search": 100 / 3})
    close(a.position_based(J), {"ig": 40.0, "mail": 20.0 + 50.0, "search": 40.0})
    # Half-life 24 h: weights 1/4, 1/2, 1 → 1/7, 2/7, 4/7 of 100.
    close(
        a.time_decay(J, half_life_hours=24),
        {"ig": 100 / 7, "mail": 200 / 7 + 50, "search": 400 / 7},
    )


def test_every_model_credits_exactly_the_converted_value() -> None:
    journeys = [*J, Journey(("ig", "search"), converted=False, value=0.0)]
    for name, credit in a.compare(journeys).items():
        assert sum(credit.values()) == pytest.approx(150.0), name


def test_markov_gives_nothing_to_a_channel_that_never_leads_to_a_conversion() -> None:
    # "display" appears only in journeys that never convert: removing it changes nothing.
    journeys = [
        Journey(("search",), value=10.0),
        Journey(("search",), value=10.0),
        Journey(("display",), converted=False, value=0.0),
        Journey(("display",), converted=False, value=0.0),
    ]
    close(a.markov(journeys), {"search": 20.0, "display": 0.0})


def test_markov_splits_evenly_between_channels_that_are_both_indispensable() -> None:
    # Every conversion needs both a then b; removing either kills all conversions.
    journeys = [Journey(("a", "b"), value=30.0), Journey(("a", "b"), value=30.0)]
    close(a.markov(journeys), {"a": 30.0, "b": 30.0})


def test_markov_removal_effect_with_a_known_answer() -> None:
    # From start: x 50%, y 50%. x converts always; y converts half the time.
    # P(conv) = 0.75; without x: 0.25 (effect 0.5); without y: 0.5 (effect 0.25) → 2:1.
    journeys = [
        Journey(("x",), value=1.0),
        Journey(("x",), value=1.0),
        Journey(("y",), value=1.0),
        Journey(("y",), converted=False, value=0.0),
    ]
    credit = a.markov(journeys)
    assert credit["x"] == pytest.approx(2.0) and credit["y"] == pytest.approx(1.0)


def test_time_decay_needs_one_time_per_touchpoint() -> None:
    with pytest.raises(ValueError, match="one entry per touchpoint"):
        a.time_decay([Journey(("a", "b"), hours_before=(1.0,))])
