"""What-if: rehearse a planned campaign in the simulated world before spending on it.

:func:`forecast` runs the campaign many times with independent draws (Monte Carlo) and returns
percentile intervals of reach, engagement, clicks, orders and revenue, for the whole campaign
and for each post. :func:`realise` is the one outcome the campaign really has in this world
(what the sandbox will show once it runs), so forecasts can be checked against it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dialogo.simulation.engagement import METRICS, PostOutcome, PostSpec, Targeting, simulate_post
from dialogo.simulation.rng import stable_key, stream
from dialogo.simulation.world import World

CAMPAIGN_METRICS: tuple[str, ...] = (*METRICS, "engagement")
DEFAULT_QUANTILES: tuple[float, float, float] = (0.1, 0.5, 0.9)


@dataclasses.dataclass(frozen=True)
class PlannedPost:
    at: dt.datetime
    topic: str
    media: bool = False
    link: bool = True
    language: str = "it"
    paid_budget_eur: float | None = None  # None: an even share of the campaign's budget


@dataclasses.dataclass(frozen=True)
class Campaign:
    posts: tuple[PlannedPost, ...]
    advocates: tuple[int, ...] = ()  # person ids asked to share every post
    budget_eur: float = 0.0  # spread over the posts that do not set their own
    targeting: Targeting = dataclasses.field(default_factory=Targeting)
    brand: str | None = None  # handle; None: the workspace's brand
    name: str = "campaign"

    def __post_init__(self) -> None:
        if not self.posts:
            raise ValueError("a campaign needs at least one post")
        if self.budget_eur < 0:
            raise ValueError("a budget cannot be negative")


@dataclasses.dataclass(frozen=True)
class Interval:
    low: float  # the lower quantile (10th percentile by default)
    median: float
    high: float  # the upper quantile (90th percentile by default)
    mean: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Forecast:
    campaign: Campaign
    runs: int
    quantiles: tuple[float, float, float]
    totals: dict[str, Interval]
    per_post: tuple[dict[str, Interval], ...]
    samples: NDArray[np.float64]  # (runs, len(CAMPAIGN_METRICS)) campaign totals

    def as_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "quantiles": list(self.quantiles),
            "totals": {k: v.as_dict() for k, v in self.totals.items()},
            "per_post": [{k: v.as_dict() for k, v in post.items()} for post in self.per_post],
        }


def campaign_posts(world: World, campaign: Campaign) -> list[PostSpec]:
    """The campaign's posts as :class:`PostSpec` (ids derived from the campaign's name)."""
    brand = campaign.brand or world.brands[0].handle
    world.brand_index(brand)
    unset = [p for p in campaign.posts if p.paid_budget_eur is None]
    share = campaign.budget_eur / len(unset) if unset else 0.0
    return [
        PostSpec(
            id=f"whatif-{campaign.name}-{k}",
            brand=brand,
            at=post.at,
            topic=post.topic,
            media=post.media,
            link=post.link,
            language=post.language,
            paid_budget_eur=share if post.paid_budget_eur is None else post.paid_budget_eur,
            targeting=campaign.targeting,
            advocates=campaign.advocates,
        )
        for k, post in enumerate(campaign.posts)
    ]


def _totals(outcomes: list[PostOutcome]) -> tuple[NDArray[np.float64], list[NDArray[np.float64]]]:
    per_post = []
    for outcome in outcomes:
        m = outcome.metrics_at(None).as_dict()
        values = [float(m[name]) for name in METRICS]
        values.append(float(m["likes"] + m["replies"] + m["reposts"]))
        per_post.append(np.array(values))
    total = np.sum(per_post, axis=0)
    # Reach of the campaign counts each person once across its posts.
    people = np.unique(np.concatenate([o.viewers for o in outcomes]))
    total[CAMPAIGN_METRICS.index("reach")] = float(people.size)
    return total, per_post


def realise(world: World, campaign: Campaign) -> dict[str, float]:
    """The outcome the campaign has in this world (the same draws the sandbox would show)."""
    outcomes = [world.simulate_post(spec) for spec in campaign_posts(world, campaign)]
    total, _ = _totals(outcomes)
    return dict(zip(CAMPAIGN_METRICS, (float(v) for v in total), strict=True))


def _interval(values: NDArray[np.float64], quantiles: tuple[float, float, float]) -> Interval:
    low, median, high = np.quantile(values, quantiles)
    return Interval(float(low), float(median), float(high), float(values.mean()))


def forecast(
    world: World,
    campaign: Campaign,
    *,
    runs: int = 200,
    quantiles: tuple[float, float, float] = DEFAULT_QUANTILES,
    seed: int = 0,
) -> Forecast:
    """Monte Carlo forecast: ``runs`` independent realisations of the campaign."""
    if runs < 2:
        raise ValueError("a forecast needs at least two runs")
    specs = campaign_posts(world, campaign)
    rng = stream(world.seed, "whatif", stable_key(campaign.name), seed)
    totals = np.empty((runs, len(CAMPAIGN_METRICS)))
    posts = np.empty((len(specs), runs, len(CAMPAIGN_METRICS)))
    for run in range(runs):
        outcomes = [simulate_post(world, spec, rng) for spec in specs]
        total, per_post = _totals(outcomes)
        totals[run] = total
        for k, values in enumerate(per_post):
            posts[k, run] = values
    return Forecast(
        campaign=campaign,
        runs=runs,
        quantiles=quantiles,
        totals={
            name: _interval(totals[:, i], quantiles) for i, name in enumerate(CAMPAIGN_METRICS)
        },
        per_post=tuple(
            {name: _interval(posts[k, :, i], quantiles) for i, name in enumerate(CAMPAIGN_METRICS)}
            for k in range(len(specs))
        ),
        samples=totals,
    )
