"""The configuration of a simulated world: segments (with their planted differences), brands,
behaviour rates. Frozen dataclasses with defaults for an Italian coffee and food scenario.

The world is a pure function of ``(seed, WorldConfig)``: change nothing here and you get the same
people, the same graph and the same events.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from dialogo.simulation.taxonomy import AGE_BANDS, TOPIC_INDEX, TOPICS

UTC = dt.UTC

Peak = tuple[int, float, float]  # local hour of day, relative amplitude, width in hours
Weights = tuple[tuple[str, float], ...]


@dataclasses.dataclass(frozen=True)
class SegmentSpec:
    """A latent audience segment. Everything here is ground truth the product tries to find."""

    key: str
    label_it: str
    label_en: str
    share: float
    age_weights: tuple[float, float, float, float, float, float]
    female_share: float
    interests: Weights  # probability that a member holds each interest (others: base rate)
    receptiveness: Weights  # planted multiplier of engagement odds by topic (others: 1.0)
    peaks_weekday: tuple[Peak, ...]  # online-activity bumps, Europe/Rome local time
    peaks_weekend: tuple[Peak, ...]
    sentiment_baseline: float  # shifts every opinion this segment writes, about -0.3 … 0.3
    patience_hours: float  # median wait before someone chases an unanswered question
    city_bias: float = 1.0  # how much more likely than average to live in a big city
    abroad_bias: float = 1.0
    english: float = 0.1  # share of members who also write in English
    activity: float = 1.0  # mean online-activity multiplier
    repost_propensity: float = 0.35  # κ in the influence probabilities (mean offspring)
    conversion: float = 1.0  # multiplier of the click → purchase rate
    order_value: float = 1.0  # multiplier of the order value

    def interest_of(self, topic: str, base: float) -> float:
        return dict(self.interests).get(topic, base)

    def receptiveness_of(self, topic: str) -> float:
        return dict(self.receptiveness).get(topic, 1.0)


@dataclasses.dataclass(frozen=True)
class BrandSpec:
    """A brand in the world. ``WorldConfig.brands[0]`` is the workspace's own brand."""

    name: str
    handle: str
    category: str  # a topic from the taxonomy
    products: tuple[str, ...]
    domain: str
    quality: float  # mean experience of its customers, -1 … 1 (drives sentiment)
    awareness: float  # share of the population that knows or buys it
    follower_share: float  # share of those aware who already follow it at the start
    posts_per_day: float
    post_hours: tuple[tuple[int, float], ...]  # local hours at which its team posts, weighted
    topic_mix: Weights
    media_share: float = 0.6
    link_share: float = 0.5
    answer_rate: float = 0.7  # share of questions and complaints its team answers
    answer_median_hours: float = 3.0  # median delay of an answer, counted in working hours
    working_hours: tuple[int, int] = (9, 18)  # local hours when its team answers
    hashtag: str = ""
    boost_share: float = 0.1  # share of its posts it boosts with a paid budget
    boost_budget_eur: float = 15.0  # mean budget of a boost


@dataclasses.dataclass(frozen=True)
class BehaviourConfig:
    """Rates and coefficients of the behavioural models (per person, per post)."""

    brand_message_rate: float = 0.008  # messages about a brand per aware person per day
    chatter_rate: float = 0.01  # posts about interests, naming no brand, per person per day
    feed_visibility: float = 0.5  # how strongly a fresh post sits in followers' feeds
    feed_decay_hours: float = 4.0
    algorithmic_reach: float = 0.08  # exposure strength to non-followers with the interest
    engagement_horizon_hours: int = 72  # nothing happens to a post after this
    like_logit: float = -4.4
    reply_logit: float = -6.6
    repost_logit: float = -6.6
    click_logit: float = -5.4
    interest_weight: float = 1.3  # added log-odds for a person fully into the post's topic
    media_weight: float = 0.35
    follower_weight: float = 0.5  # followers of the brand engage more
    cascade_engagement_boost: float = 0.7  # seeing a friend's repost makes you engage more
    paid_engagement_factor: float = 0.7  # ads engage less than organic posts
    propensity_sd: float = 0.6  # person-level spread of engagement log-odds
    conversion_rate: float = 0.06  # click → purchase
    order_value_median_eur: float = 24.0
    order_value_sigma: float = 0.55
    cpm_eur: float = 10.0  # cost of 1000 paid impressions (€)
    follower_growth: float = 0.12  # new followers over ``history_days``, as a share of initial
    advocate_compliance: float = 0.7  # chance an asked advocate really shares a post
    repost_scale: float = 1.0  # multiplies every influence probability (κ)


def _segments() -> tuple[SegmentSpec, ...]:
    return (
        SegmentSpec(
            key="urban_young",
            label_it="Giovani urbani",
            label_en="Young urbanites",
            share=0.20,
            age_weights=(0.45, 0.45, 0.08, 0.02, 0.0, 0.0),
            female_share=0.52,
            interests=(
                ("music", 0.75),
                ("fashion", 0.55),
                ("tech", 0.5),
                ("cinema", 0.45),
                ("travel", 0.45),
                ("coffee", 0.4),
                ("family", 0.05),
            ),
            receptiveness=(
                ("music", 2.0),
                ("fashion", 1.7),
                ("tech", 1.3),
                ("cinema", 1.3),
                ("family", 0.6),
                ("coffee", 0.8),
            ),
            peaks_weekday=((13, 0.5, 1.2), (22, 1.0, 1.3)),
            peaks_weekend=((13, 0.5, 1.5), (23, 1.0, 1.6)),
            sentiment_baseline=-0.1,
            patience_hours=2.0,
            city_bias=1.8,
            abroad_bias=1.5,
            english=0.35,
            activity=1.25,
            repost_propensity=0.45,
            conversion=0.7,
            order_value=0.8,
        ),
        SegmentSpec(
            key="families",
            label_it="Famiglie",
            label_en="Families",
            share=0.22,
            age_weights=(0.0, 0.15, 0.45, 0.35, 0.05, 0.0),
            female_share=0.58,
            interests=(
                ("family", 0.85),
                ("food", 0.7),
                ("travel", 0.4),
                ("sustainability", 0.2),
                ("coffee", 0.45),
                ("football", 0.25),
            ),
            receptiveness=(("family", 2.1), ("food", 1.6), ("travel", 1.2), ("fashion", 0.8)),
            peaks_weekday=((7, 0.35, 0.8), (14, 0.5, 1.0), (21, 1.0, 1.0)),
            peaks_weekend=((10, 0.8, 1.5), (21, 1.0, 1.2)),
            sentiment_baseline=0.1,
            patience_hours=5.0,
            city_bias=0.8,
            abroad_bias=0.6,
            english=0.08,
            activity=0.9,
            repost_propensity=0.3,
            conversion=1.2,
            order_value=1.2,
        ),
        SegmentSpec(
            key="athletes",
            label_it="Sportivi",
            label_en="Athletes",
            share=0.13,
            age_weights=(0.15, 0.35, 0.3, 0.15, 0.05, 0.0),
            female_share=0.42,
            interests=(
                ("running", 0.8),
                ("fitness", 0.75),
                ("football", 0.45),
                ("food", 0.45),
                ("tech", 0.3),
                ("coffee", 0.35),
            ),
            receptiveness=(("running", 2.3), ("fitness", 2.0), ("football", 1.4)),
            peaks_weekday=((6, 1.0, 1.0), (18, 0.6, 1.0)),
            peaks_weekend=((8, 1.0, 1.2), (18, 0.6, 1.2)),
            sentiment_baseline=0.05,
            patience_hours=4.0,
            city_bias=1.0,
            english=0.15,
            activity=1.0,
            repost_propensity=0.35,
            conversion=0.9,
        ),
        SegmentSpec(
            key="professionals",
            label_it="Professionisti",
            label_en="Professionals",
            share=0.18,
            age_weights=(0.02, 0.3, 0.33, 0.27, 0.08, 0.0),
            female_share=0.47,
            interests=(
                ("coffee", 0.8),
                ("tech", 0.5),
                ("travel", 0.55),
                ("food", 0.45),
                ("football", 0.35),
            ),
            receptiveness=(("coffee", 2.0), ("travel", 1.6), ("tech", 1.4), ("music", 0.8)),
            peaks_weekday=((8, 1.0, 0.9), (13, 0.6, 0.8), (21, 0.4, 1.5)),
            peaks_weekend=((10, 0.8, 1.5), (21, 0.5, 1.5)),
            sentiment_baseline=-0.05,
            patience_hours=3.0,
            city_bias=1.5,
            abroad_bias=1.5,
            english=0.3,
            activity=1.0,
            repost_propensity=0.25,
            conversion=1.3,
            order_value=1.3,
        ),
        SegmentSpec(
            key="seniors",
            label_it="Over 55",
            label_en="Over 55s",
            share=0.15,
            age_weights=(0.0, 0.0, 0.0, 0.1, 0.5, 0.4),
            female_share=0.53,
            interests=(
                ("food", 0.65),
                ("family", 0.45),
                ("football", 0.4),
                ("cinema", 0.35),
                ("travel", 0.35),
                ("coffee", 0.55),
                ("tech", 0.08),
                ("fashion", 0.1),
            ),
            receptiveness=(
                ("food", 1.7),
                ("cinema", 1.3),
                ("football", 1.2),
                ("tech", 0.5),
                ("fashion", 0.6),
            ),
            peaks_weekday=((10, 1.0, 1.2), (17, 0.7, 1.2)),
            peaks_weekend=((10, 1.0, 1.5), (16, 0.6, 1.5)),
            sentiment_baseline=0.15,
            patience_hours=10.0,
            city_bias=0.7,
            abroad_bias=0.3,
            english=0.03,
            activity=0.75,
            repost_propensity=0.35,
            conversion=1.1,
        ),
        SegmentSpec(
            key="green",
            label_it="Attenti all'ambiente",
            label_en="Eco-minded",
            share=0.12,
            age_weights=(0.25, 0.35, 0.2, 0.12, 0.06, 0.02),
            female_share=0.6,
            interests=(
                ("sustainability", 0.85),
                ("food", 0.55),
                ("running", 0.25),
                ("fashion", 0.3),
                ("travel", 0.35),
            ),
            receptiveness=(
                ("sustainability", 2.4),
                ("food", 1.2),
                ("running", 1.2),
                ("fashion", 1.1),
            ),
            peaks_weekday=((12, 0.6, 1.0), (20, 1.0, 1.0)),
            peaks_weekend=((11, 1.0, 1.5), (19, 0.6, 1.2)),
            sentiment_baseline=-0.15,
            patience_hours=4.0,
            city_bias=1.2,
            english=0.25,
            activity=1.05,
            repost_propensity=0.5,
        ),
    )


def _brands() -> tuple[BrandSpec, ...]:
    return (
        BrandSpec(
            name="Caffè Aurora",
            handle="caffeaurora",
            category="coffee",
            products=(
                "Aurora Classico",
                "Aurora Intenso",
                "capsule Aurora Bio",
                "Aurora Dek",
                "moka Aurora",
                "Cold Brew Aurora",
            ),
            domain="caffeaurora.example",
            quality=0.3,
            awareness=0.32,
            follower_share=0.4,
            posts_per_day=1.6,
            post_hours=((10, 3.0), (11, 2.0), (15, 3.0), (16, 2.0), (18, 1.0)),
            topic_mix=(
                ("coffee", 0.4),
                ("food", 0.15),
                ("sustainability", 0.15),
                ("family", 0.1),
                ("travel", 0.1),
                ("music", 0.05),
                ("running", 0.05),
            ),
            answer_rate=0.75,
            answer_median_hours=3.0,
            working_hours=(9, 18),
            hashtag="CaffeAurora",
        ),
        BrandSpec(
            name="Torrefazione Vesuvio",
            handle="vesuviocaffe",
            category="coffee",
            products=("Miscela Napoli", "Vesuvio Crema", "capsule Vesuvio Forte", "grani Vesuvio"),
            domain="vesuviocaffe.example",
            quality=0.15,
            awareness=0.26,
            follower_share=0.35,
            posts_per_day=1.2,
            post_hours=((9, 2.0), (13, 2.0), (20, 1.0)),
            topic_mix=(("coffee", 0.6), ("food", 0.2), ("football", 0.1), ("family", 0.1)),
            answer_rate=0.45,
            answer_median_hours=10.0,
            working_hours=(9, 17),
            hashtag="VesuvioCaffe",
        ),
        BrandSpec(
            name="Moka Nera",
            handle="mokanera",
            category="coffee",
            products=("Moka Nera Gold", "capsule Nera Ristretto", "macinato Moka Nera"),
            domain="mokanera.example",
            quality=-0.05,
            awareness=0.18,
            follower_share=0.3,
            posts_per_day=0.8,
            post_hours=((12, 1.0), (19, 1.0)),
            topic_mix=(("coffee", 0.5), ("tech", 0.2), ("music", 0.2), ("fashion", 0.1)),
            answer_rate=0.3,
            answer_median_hours=20.0,
            working_hours=(10, 17),
            hashtag="MokaNera",
        ),
        BrandSpec(
            name="Dolce Forno",
            handle="dolceforno",
            category="food",
            products=("frollini Dolce Forno", "cornetti Dolce Forno", "biscotti Cacao Forno"),
            domain="dolceforno.example",
            quality=0.45,
            awareness=0.22,
            follower_share=0.35,
            posts_per_day=1.0,
            post_hours=((8, 2.0), (17, 1.0)),
            topic_mix=(("food", 0.6), ("family", 0.3), ("sustainability", 0.1)),
            answer_rate=0.85,
            answer_median_hours=1.5,
            working_hours=(8, 20),
            hashtag="DolceForno",
        ),
    )


DEFAULT_SEGMENTS: tuple[SegmentSpec, ...] = _segments()
DEFAULT_BRANDS: tuple[BrandSpec, ...] = _brands()

# Share of the population holding each interest, for segments that do not say otherwise.
BASE_INTEREST: Mapping[str, float] = {
    "coffee": 0.4,
    "food": 0.45,
    "running": 0.1,
    "fitness": 0.18,
    "travel": 0.3,
    "fashion": 0.2,
    "tech": 0.2,
    "music": 0.3,
    "football": 0.3,
    "family": 0.25,
    "sustainability": 0.12,
    "cinema": 0.22,
}


@dataclasses.dataclass(frozen=True)
class WorldConfig:
    seed: int = 42
    population: int = 20_000
    start: dt.datetime = dt.datetime(2026, 1, 1, tzinfo=UTC)
    history_days: int = 90
    timezone: str = "Europe/Rome"
    mean_follows: float = 12.0  # mean number of people each person follows
    segments: tuple[SegmentSpec, ...] = DEFAULT_SEGMENTS
    brands: tuple[BrandSpec, ...] = DEFAULT_BRANDS
    behaviour: BehaviourConfig = BehaviourConfig()
    # Until this instant the workspace's own brand posts and answers by itself (history); after
    # it, the people using Dialogo do (the sandbox provider feeds their posts and replies back
    # in). ``None``: the end of the history, ``start + history_days``.
    autopilot_until: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.population < 200:
            raise ValueError("a world needs at least 200 people")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if self.autopilot_until is not None and self.autopilot_until.tzinfo is None:
            raise ValueError("autopilot_until must be timezone-aware")
        ZoneInfo(self.timezone)
        if not self.brands:
            raise ValueError("a world needs at least the workspace's brand")
        if len({b.handle for b in self.brands}) != len(self.brands):
            raise ValueError("brand handles must be unique")
        if not self.segments or any(s.share <= 0 for s in self.segments):
            raise ValueError("segments need positive shares")
        for segment in self.segments:
            if len(segment.age_weights) != len(AGE_BANDS) or sum(segment.age_weights) <= 0:
                raise ValueError(f"segment {segment.key}: bad age weights")
            for topic, _ in (*segment.interests, *segment.receptiveness):
                if topic not in TOPIC_INDEX:
                    raise ValueError(f"segment {segment.key}: unknown topic {topic!r}")
        for brand in self.brands:
            if brand.category not in TOPIC_INDEX:
                raise ValueError(f"brand {brand.handle}: unknown category {brand.category!r}")
            for topic, _ in brand.topic_mix:
                if topic not in TOPIC_INDEX:
                    raise ValueError(f"brand {brand.handle}: unknown topic {topic!r}")
            if not brand.products or not brand.post_hours or not brand.topic_mix:
                raise ValueError(f"brand {brand.handle}: needs products, hours and topics")

    @property
    def workspace_brand(self) -> BrandSpec:
        return self.brands[0]

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(days=self.history_days)

    @property
    def live_from(self) -> dt.datetime:
        return self.autopilot_until if self.autopilot_until is not None else self.end

    def replace(self, **changes: Any) -> WorldConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (datetimes as ISO 8601)."""

        def convert(value: Any) -> Any:
            if isinstance(value, dt.datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: convert(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [convert(v) for v in value]
            return value

        result: dict[str, Any] = convert(dataclasses.asdict(self))
        result["topics"] = list(TOPICS)
        return result
