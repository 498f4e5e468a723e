"""The simulated people: demographics, place, languages, interests, latent segment, brand
experience and personal rates, as columns of numpy arrays (one row per person, id = row)."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dialogo.simulation.config import BASE_INTEREST, WorldConfig
from dialogo.simulation.rng import stream
from dialogo.simulation.taxonomy import (
    AGE_BANDS,
    FIRST_NAMES_F,
    FIRST_NAMES_M,
    FIRST_NAMES_X,
    FOREIGN_FIRST_F,
    FOREIGN_FIRST_M,
    FOREIGN_LAST,
    LAST_NAMES,
    PLACE_REGION,
    PLACES,
    REGIONS,
    SEX_WEIGHTS,
    SEXES,
    TOPICS,
)

_HANDLE_PRIMES = (1_009, 10_007, 100_003, 1_000_003, 10_000_019)
_HANDLE_STYLES = 5


def _ascii(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return re.sub(r"[^a-z]", "", decomposed.encode("ascii", "ignore").decode().lower())


@dataclasses.dataclass(frozen=True, eq=False)
class Population:
    """Column arrays, one row per person. Person ids are row numbers ``0 … size-1``."""

    segment: NDArray[np.int8]
    age_band: NDArray[np.int8]
    sex: NDArray[np.int8]
    place: NDArray[np.int16]
    region: NDArray[np.int16]
    foreign: NDArray[np.bool_]  # a foreign native English speaker (names and language)
    english: NDArray[np.float32]  # probability that a message of theirs is in English
    interests: NDArray[np.float32]  # (n, topics): 0 = no interest, up to 1 = passionate
    activity: NDArray[np.float32]  # multiplier of the segment's online probability
    propensity: NDArray[np.float32]  # personal engagement log-odds offset
    patience: NDArray[np.float32]  # hours before chasing an unanswered question
    popularity: NDArray[np.float32]  # heavy-tailed fitness: how followable the person is
    aware: NDArray[np.float32]  # (n, brands): 0 = does not know the brand, up to 1 = loyal
    satisfaction: NDArray[np.float32]  # (n, brands): experience with the brand, -1 … 1
    first_name: NDArray[np.int16]
    last_name: NDArray[np.int16]
    handle_style: NDArray[np.int8]

    @property
    def size(self) -> int:
        return int(self.segment.shape[0])

    # -- identity ------------------------------------------------------------------------------

    def _names(self, person: int) -> tuple[str, str]:
        sex = int(self.sex[person])
        if self.foreign[person]:
            firsts = FOREIGN_FIRST_F if sex == 0 else FOREIGN_FIRST_M
            return firsts[self.first_name[person] % len(firsts)], FOREIGN_LAST[
                self.last_name[person] % len(FOREIGN_LAST)
            ]
        firsts = (FIRST_NAMES_F, FIRST_NAMES_M, FIRST_NAMES_X)[sex]
        return firsts[self.first_name[person] % len(firsts)], LAST_NAMES[
            self.last_name[person] % len(LAST_NAMES)
        ]

    def first_name_of(self, person: int) -> str:
        return self._names(person)[0]

    def display_name(self, person: int) -> str:
        first, last = self._names(person)
        return f"{first} {last}"

    def handle(self, person: int) -> str:
        """A unique, stable handle: letters from the name, then a number that is a bijection of
        the person id (so no two people share a handle)."""
        first, last = (_ascii(part) for part in self._names(person))
        prime = next(p for p in _HANDLE_PRIMES if p > self.size)
        tail = (person * 7919 + 31) % prime
        style = int(self.handle_style[person])
        if style == 0:
            return f"{first}.{last}{tail}"
        if style == 1:
            return f"{first}_{last}{tail}"
        if style == 2:
            return f"{first}{last}{tail}"
        if style == 3:
            return f"{first}{last[:1]}{tail}"
        return f"{first}.{tail}"

    def remote_id(self, person: int) -> str:
        return f"u{person}"

    def languages(self, person: int) -> list[str]:
        english = float(self.english[person])
        if english >= 0.99:
            return ["en"]
        return ["it", "en"] if english > 0 else ["it"]

    def profile(self, person: int) -> dict[str, Any]:
        """Everything true about one person, JSON-serialisable (ground truth)."""
        place = PLACES[int(self.place[person])]
        return {
            "id": person,
            "remote_id": self.remote_id(person),
            "handle": self.handle(person),
            "display_name": self.display_name(person),
            "segment": int(self.segment[person]),
            "age_band": AGE_BANDS[int(self.age_band[person])],
            "sex": SEXES[int(self.sex[person])],
            "place": place.name,
            "region": place.region,
            "country": place.country,
            "languages": self.languages(person),
            "interests": {
                TOPICS[t]: round(float(v), 3) for t, v in enumerate(self.interests[person]) if v > 0
            },
        }


def generate_population(config: WorldConfig) -> Population:
    """Draw the people of a world (stream ``population``)."""
    rng = stream(config.seed, "population")
    n = config.population
    segments = config.segments
    shares = np.array([s.share for s in segments], dtype=np.float64)
    segment = rng.choice(len(segments), size=n, p=shares / shares.sum()).astype(np.int8)

    age_band = np.empty(n, dtype=np.int8)
    sex = np.empty(n, dtype=np.int8)
    place = np.empty(n, dtype=np.int16)
    english_prone = np.empty(n, dtype=np.bool_)
    place_weight = np.array([p.weight for p in PLACES])
    is_city = np.array([not p.name.endswith("(altro)") and not p.abroad for p in PLACES])
    is_abroad = np.array([p.abroad for p in PLACES])
    interests_p = np.empty((n, len(TOPICS)), dtype=np.float64)
    activity_mean = np.empty(n)
    patience_median = np.empty(n)
    for s, spec in enumerate(segments):
        members = np.flatnonzero(segment == s)
        count = members.size
        ages = np.asarray(spec.age_weights, dtype=np.float64)
        age_band[members] = rng.choice(len(AGE_BANDS), size=count, p=ages / ages.sum())
        sex_p = np.array([spec.female_share, 1 - spec.female_share - SEX_WEIGHTS[2]])
        sex_p = np.append(sex_p, SEX_WEIGHTS[2])
        sex[members] = rng.choice(len(SEXES), size=count, p=sex_p / sex_p.sum())
        weights = place_weight * np.where(is_city, spec.city_bias, 1.0)
        weights = weights * np.where(is_abroad, spec.abroad_bias, 1.0)
        place[members] = rng.choice(len(PLACES), size=count, p=weights / weights.sum())
        english_prone[members] = rng.random(count) < spec.english
        interests_p[members] = [spec.interest_of(t, BASE_INTEREST[t]) for t in TOPICS]
        activity_mean[members] = spec.activity
        patience_median[members] = spec.patience_hours
    region = np.asarray(PLACE_REGION, dtype=np.int16)[place]
    abroad = region == REGIONS.index("abroad")
    foreign = abroad & (rng.random(n) < 0.45)
    english = np.where(english_prone, 0.3, 0.0)
    english = np.where(abroad, 0.5, english)
    english = np.where(foreign, 1.0, english).astype(np.float32)

    holds = rng.random((n, len(TOPICS))) < interests_p
    strength = rng.beta(4.0, 2.0, size=(n, len(TOPICS)))
    interests = np.where(holds, strength, 0.0).astype(np.float32)

    activity = (activity_mean * rng.lognormal(-0.125, 0.5, size=n)).astype(np.float32)
    propensity = rng.normal(0.0, config.behaviour.propensity_sd, size=n).astype(np.float32)
    patience = (patience_median * rng.lognormal(0.0, 0.5, size=n)).astype(np.float32)
    # Popularity: Pareto-tailed, and higher for the more active.
    fitness = (rng.pareto(1.2, size=n) + 1.0) * np.sqrt(activity)
    popularity = np.minimum(fitness, np.quantile(fitness, 0.9995)).astype(np.float32)

    brands = config.brands
    aware = np.zeros((n, len(brands)), dtype=np.float32)
    satisfaction = np.zeros((n, len(brands)), dtype=np.float32)
    baseline = np.array([s.sentiment_baseline for s in segments])[segment]
    for b, brand in enumerate(brands):
        category = TOPICS.index(brand.category)
        affinity = 0.35 + interests[:, category] + np.where(abroad, -0.2, 0.0)
        probability = np.clip(brand.awareness * affinity / affinity.mean(), 0.0, 0.95)
        knows = rng.random(n) < probability
        aware[:, b] = np.where(knows, rng.uniform(0.2, 1.0, size=n), 0.0)
        experience = brand.quality + baseline + rng.normal(0.0, 0.45, size=n)
        satisfaction[:, b] = np.clip(experience, -1.0, 1.0)

    first_name = rng.integers(0, 1 << 15, size=n).astype(np.int16)
    last_name = rng.integers(0, 1 << 15, size=n).astype(np.int16)
    handle_style = rng.integers(0, _HANDLE_STYLES, size=n).astype(np.int8)
    return Population(
        segment=segment,
        age_band=age_band,
        sex=sex,
        place=place,
        region=region,
        foreign=foreign,
        english=english,
        interests=interests,
        activity=activity,
        propensity=propensity,
        patience=patience,
        popularity=popularity,
        aware=aware,
        satisfaction=satisfaction,
        first_name=first_name,
        last_name=last_name,
        handle_style=handle_style,
    )
