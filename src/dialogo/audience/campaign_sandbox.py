"""A past campaign with a random control group, simulated in the sandbox so the truth is known.

The brand runs ``posts`` paid posts on one topic, shown to a random *treated* share of the
people; the *control* group is held out (never shown the campaign). A person *responds* when
they engage with the brand (like, comment) during the campaign window.

The response model is the simulation's engagement model (:mod:`dialogo.simulation.engagement`):
a viewer of a paid post on topic ``τ`` acts with log-odds ``like_logit + log
paid_engagement_factor + log receptiveness[segment, τ] + w_interest · interest[τ] +
propensity + w_follower · follows + ½ · satisfaction``. Everyone, treated or not, may also
engage with the brand's ordinary content in the window (the baseline ``p0``: the same model
without the topic terms, for the brand's organic posts). So

* ``p0 = baseline``, ``p1 = 1 − (1 − p0) · (1 − p_ad)^posts`` and the true uplift ``p1 − p0``
  is what :func:`true_probabilities` returns: the oracle the uplift models are judged against.

Pure functions over the world's arrays; :mod:`dialogo.audience.receptiveness` stores the
result as an experiment of the workspace.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import NDArray

from dialogo.simulation.taxonomy import AGE_BANDS, TOPIC_INDEX, TOPICS
from dialogo.simulation.world import World

_I64 = NDArray[np.int64]
_F64 = NDArray[np.float64]

# The brand's organic engagement in the window, relative to one ad view (log-odds shift):
# a handful of ordinary posts seen by some of its audience.
BASELINE_SHIFT = 0.4


def _sigmoid(x: _F64) -> _F64:
    result: _F64 = 1.0 / (1.0 + np.exp(-x))
    return result


def true_probabilities(
    world: World, people: _I64, topic: str, *, posts: int = 5, brand: int = 0
) -> tuple[_F64, _F64]:
    """``(p0, p1)``: each person's chance to respond without and with the campaign."""
    if topic not in TOPIC_INDEX:
        raise ValueError(f"unknown topic {topic!r}: use one of {', '.join(TOPICS)}")
    if posts < 1:
        raise ValueError("a campaign has at least one post")
    cfg = world.config.behaviour
    pop = world.population
    people = np.asarray(people, dtype=np.int64)
    t = TOPIC_INDEX[topic]
    segment = pop.segment.astype(np.int64)[people]
    follows = np.zeros(pop.size, dtype=np.bool_)
    follows[world.followers_at(brand, 2**62)] = True
    person = (
        pop.propensity[people].astype(np.float64)
        + cfg.follower_weight * follows[people]
        + 0.5 * pop.satisfaction[people, brand].astype(np.float64)
    )
    p0 = _sigmoid(cfg.like_logit + BASELINE_SHIFT + person)
    ad = _sigmoid(
        cfg.like_logit
        + np.log(cfg.paid_engagement_factor)
        + world.log_receptiveness[segment, t]
        + cfg.interest_weight * pop.interests[people, t].astype(np.float64)
        + person
    )
    p1 = 1.0 - (1.0 - p0) * (1.0 - ad) ** posts
    return p0, p1


@dataclasses.dataclass(frozen=True, eq=False)
class Campaign:
    """One realisation: who was treated and who responded (parallel to ``people``)."""

    topic: str
    people: _I64
    treated: NDArray[np.bool_]
    responded: NDArray[np.bool_]
    p0: _F64
    p1: _F64

    @property
    def true_uplift(self) -> _F64:
        result: _F64 = self.p1 - self.p0
        return result


def simulate_campaign(
    world: World,
    people: _I64,
    topic: str,
    *,
    treated_share: float = 0.5,
    posts: int = 5,
    seed: int = 0,
) -> Campaign:
    """Assign ``people`` at random to treatment (``treated_share``) or control and draw who
    responds (deterministic for a world seed, topic and ``seed``)."""
    if not 0.05 <= treated_share <= 0.95:
        raise ValueError("the treated share must lie in 0.05 … 0.95")
    people = np.unique(np.asarray(people, dtype=np.int64))
    p0, p1 = true_probabilities(world, people, topic, posts=posts)
    rng = np.random.default_rng([world.config.seed, TOPIC_INDEX[topic], seed, 0x0A11])
    treated = rng.random(people.size) < treated_share
    responded = rng.random(people.size) < np.where(treated, p1, p0)
    return Campaign(topic, people, treated, responded, p0, p1)


def person_features(world: World, people: _I64) -> list[dict[str, float | str]]:
    """What Dialogo knows of each person (the profile the sandbox sync stores): age band, sex,
    region and interest scores. The latent segment is *not* among them."""
    pop = world.population
    from dialogo.simulation.taxonomy import PLACES, REGIONS, SEXES

    rows: list[dict[str, float | str]] = []
    for p in np.asarray(people, dtype=np.int64):
        row: dict[str, float | str] = {
            "age_band": AGE_BANDS[int(pop.age_band[p])],
            "sex": SEXES[int(pop.sex[p])],
            "region": REGIONS[int(pop.region[p])],
            "country": PLACES[int(pop.place[p])].country,
        }
        for t, value in enumerate(pop.interests[p]):
            if value > 0:
                row[f"interest:{TOPICS[t]}"] = round(float(value), 3)
        rows.append(row)
    return rows
