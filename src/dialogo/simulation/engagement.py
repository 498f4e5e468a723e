"""What happens to one brand post: who sees it, likes, comments, reposts, clicks and buys.

The model, for a post of brand ``b`` on topic ``τ`` published at ``t0``:

* **Seeing.** Over the next ``engagement_horizon_hours`` a post's visibility decays
  exponentially in the feed; a person of segment ``s`` sees it with probability
  ``1 - exp(-strength · activity · Λ_s)``, where ``Λ_s`` sums the segment's online probability
  (local hour of the week, DST-correct) weighted by the decay. Followers of the brand get the
  feed strength, non-followers interested in ``τ`` get the (weaker) algorithmic strength scaled
  by their interest, and a paid budget buys ``budget / CPM · 1000`` impressions shown to the
  targeted people when they are online. The time of each view follows the same hourly weights.
* **Acting.** Each viewer likes, comments, reposts and (if the post has a link) clicks with
  log-odds ``base + log receptiveness[s, τ] + w_interest · interest[τ] + propensity +
  w_follower · follows + ½ · satisfaction with b`` (+ media for likes and reposts, less for ads,
  more after a friend's repost). The receptiveness matrix is the planted truth.
* **Cascading.** Reposters (and advocates asked to share) start an independent cascade over
  the follower graph with the world's true arc probabilities; activated people repost in turn,
  and the followers of every reposter may see the repost.
* **Buying.** A click turns into an order with the segment's conversion rate; order values are
  log-normal.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from dialogo.simulation.cascade import independent_cascade, out_arcs
from dialogo.simulation.clock import from_seconds, to_seconds
from dialogo.simulation.events import Engagement, Event, Message, Purchase
from dialogo.simulation.rng import py_random, stream
from dialogo.simulation.taxonomy import TOPIC_INDEX

if TYPE_CHECKING:
    from dialogo.simulation.world import World

VIA: tuple[str, ...] = ("follower", "algorithmic", "paid", "cascade", "advocate")
FOLLOWER, ALGORITHMIC, PAID, CASCADE, ADVOCATE = range(5)

_I64 = NDArray[np.int64]


@dataclasses.dataclass(frozen=True)
class Targeting:
    """Who a paid budget is shown to. ``None`` means no restriction."""

    segments: tuple[str, ...] | None = None  # segment keys
    regions: tuple[str, ...] | None = None
    age_bands: tuple[str, ...] | None = None
    interested_only: bool = True  # only people with an interest in the post's topic


@dataclasses.dataclass(frozen=True)
class PostSpec:
    """A brand post to simulate: one already published, or one planned (what-if)."""

    id: str
    brand: str  # handle
    at: dt.datetime
    topic: str
    media: bool = False
    link: bool = False
    language: str = "it"
    paid_budget_eur: float = 0.0
    targeting: Targeting = dataclasses.field(default_factory=Targeting)
    advocates: tuple[int, ...] = ()  # people asked to share it when it goes out

    def __post_init__(self) -> None:
        if self.topic not in TOPIC_INDEX:
            raise ValueError(f"unknown topic {self.topic!r}")
        if self.at.tzinfo is None:
            raise ValueError("post times must be timezone-aware")
        if self.paid_budget_eur < 0:
            raise ValueError("a budget cannot be negative")


@dataclasses.dataclass(frozen=True)
class PostMetricsSnapshot:
    """Counts up to an instant; the first seven match ``providers.base.PostMetrics``."""

    impressions: int
    reach: int
    likes: int
    replies: int
    reposts: int
    clicks: int
    purchases: int
    revenue_eur: float

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


METRICS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(PostMetricsSnapshot))


@dataclasses.dataclass(frozen=True, eq=False)
class PostOutcome:
    """Everything that happened to one post, as arrays (times in epoch seconds)."""

    post: PostSpec
    viewers: _I64
    view_at: _I64
    view_via: NDArray[np.int8]
    impressions: NDArray[np.int32]
    like_person: _I64
    like_at: _I64
    like_via: NDArray[np.int8]
    reply_person: _I64
    reply_at: _I64
    repost_person: _I64
    repost_at: _I64
    repost_via: NDArray[np.int8]
    repost_source: _I64
    click_person: _I64
    click_at: _I64
    click_via: NDArray[np.int8]
    purchase_click: _I64  # index into the click arrays
    purchase_at: _I64
    purchase_value: NDArray[np.float64]

    def metrics_at(self, when: dt.datetime | None = None) -> PostMetricsSnapshot:
        """Counts of what happened up to ``when`` (everything when ``None``)."""
        limit = np.iinfo(np.int64).max if when is None else to_seconds(when)
        seen = self.view_at <= limit
        bought = self.purchase_at <= limit
        return PostMetricsSnapshot(
            impressions=int(self.impressions[seen].sum()),
            reach=int(seen.sum()),
            likes=int((self.like_at <= limit).sum()),
            replies=int((self.reply_at <= limit).sum()),
            reposts=int((self.repost_at <= limit).sum()),
            clicks=int((self.click_at <= limit).sum()),
            purchases=int(bought.sum()),
            revenue_eur=round(float(self.purchase_value[bought].sum()), 2),
        )

    def events(self, world: World) -> list[Event]:
        """Likes, reposts, clicks, purchases and comments, as events (comments carry text)."""
        post = self.post
        out: list[Event] = []
        for code, persons, times, vias in (
            ("l", self.like_person, self.like_at, self.like_via),
            ("k", self.click_person, self.click_at, self.click_via),
        ):
            action = "like" if code == "l" else "click"
            for k in range(persons.size):
                out.append(
                    Engagement(
                        id=f"{post.id}:{code}{k}",
                        at=from_seconds(times[k]),
                        person=int(persons[k]),
                        post_id=post.id,
                        brand=post.brand,
                        action=action,  # type: ignore[arg-type]
                        via=VIA[int(vias[k])],  # type: ignore[arg-type]
                    )
                )
        for k in range(self.repost_person.size):
            source = int(self.repost_source[k])
            out.append(
                Engagement(
                    id=f"{post.id}:s{k}",
                    at=from_seconds(self.repost_at[k]),
                    person=int(self.repost_person[k]),
                    post_id=post.id,
                    brand=post.brand,
                    action="repost",
                    via=VIA[int(self.repost_via[k])],  # type: ignore[arg-type]
                    source=None if source < 0 else source,
                )
            )
        for k in range(self.purchase_at.size):
            click = int(self.purchase_click[k])
            out.append(
                Purchase(
                    id=f"{post.id}:o{k}",
                    at=from_seconds(self.purchase_at[k]),
                    person=int(self.click_person[click]),
                    brand=post.brand,
                    post_id=post.id,
                    click_id=f"{post.id}:k{click}",
                    value_eur=round(float(self.purchase_value[k]), 2),
                )
            )
        out.extend(self.comments(world))
        return out

    def comments(self, world: World) -> list[Message]:
        """The comments under the post, with text and true labels (stream ``comments``)."""
        if self.reply_person.size == 0:
            return []
        post = self.post
        rng = stream(world.config.seed, "comments", post.id)
        rnd = py_random(rng)
        brand = world.brand_index(post.brand)
        pop = world.population
        persons = self.reply_person
        score = (
            pop.satisfaction[persons, brand]
            + 0.3 * pop.interests[persons, TOPIC_INDEX[post.topic]]
            + rng.normal(0.0, 0.35, size=persons.size)
        )
        english = rng.random(persons.size) < pop.english[persons]
        draws = rng.random(persons.size)
        out: list[Message] = []
        for k in range(persons.size):
            sentiment = "neg" if score[k] < -0.15 else "pos" if score[k] > 0.45 else "neu"
            u = draws[k]
            if sentiment == "pos":
                intent = "praise" if u < 0.7 else "other"
            elif sentiment == "neu":
                intent = "question" if u < 0.5 else "other"
            else:
                intent = "complaint" if u < 0.75 else "other"
            language = "en" if english[k] else "it"
            person = int(persons[k])
            written = world.writer.comment(
                rnd,
                language=language,
                brand=brand,
                intent=intent,
                sentiment=sentiment,
                topic=post.topic,
                city=world.city_of(person),
            )
            out.append(
                Message(
                    id=f"{post.id}:r{k}",
                    at=from_seconds(self.reply_at[k]),
                    author=person,
                    kind="comment",
                    text=written.text,
                    language=language,
                    sentiment=sentiment,  # type: ignore[arg-type]
                    topic=post.topic if written.topical else world.brands[brand].category,
                    intent=intent,  # type: ignore[arg-type]
                    brand=post.brand,
                    conversation_id=post.id,
                    in_reply_to=post.id,
                    expects_answer=intent in ("question", "complaint"),
                )
            )
        return out


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    result: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-x))
    return result


def _first_occurrence(
    people: _I64, times: _I64, *extra: NDArray[np.generic]
) -> tuple[_I64, _I64, list[NDArray[np.generic]]]:
    """Keep each person once, at their earliest time."""
    order = np.lexsort((times, people))
    people, times = people[order], times[order]
    keep = np.ones(people.size, dtype=np.bool_)
    keep[1:] = people[1:] != people[:-1]
    return people[keep], times[keep], [e[order][keep] for e in extra]


def simulate_post(world: World, post: PostSpec, rng: np.random.Generator) -> PostOutcome:
    """One random realisation of what happens to ``post`` (see the module docstring)."""
    cfg = world.config.behaviour
    pop = world.population
    n = pop.size
    brand = world.brand_index(post.brand)
    topic = TOPIC_INDEX[post.topic]
    t0 = to_seconds(post.at)
    horizon = cfg.engagement_horizon_hours
    end = t0 + horizon * 3600
    segment = pop.segment.astype(np.int64)
    activity = pop.activity.astype(np.float64)

    # Hourly exposure weights from t0 on, by segment (DST-correct local hours).
    hours = np.arange(t0 // 3600, t0 // 3600 + horizon + 1, dtype=np.int64)
    middle = np.maximum(hours * 3600 + 1800 - t0, 0) / 3600.0
    visibility = np.exp(-middle / cfg.feed_decay_hours)
    visibility[0] *= 1.0 - (t0 % 3600) / 3600.0
    rate = world.online[:, world.mapper.hour_of_week(hours)] * visibility[None, :]
    lam = rate.sum(axis=1)
    cdf = np.cumsum(rate, axis=1) / lam[:, None]
    flat_cdf = (cdf + np.arange(cdf.shape[0])[:, None]).ravel()

    def view_offsets(people: _I64) -> _I64:
        seg = segment[people]
        pick = np.searchsorted(flat_cdf, seg + rng.random(people.size) * 0.999999)
        hour = np.clip(pick - seg * hours.size, 0, hours.size - 1)
        at = (hours[hour] * 3600 + (rng.random(people.size) * 3600).astype(np.int64)) - t0
        result: _I64 = np.maximum(at, 0)
        return result

    def chance(strength: NDArray[np.float64], people: _I64) -> NDArray[np.bool_]:
        result: NDArray[np.bool_] = rng.random(people.size) < -np.expm1(
            -strength * activity[people] * lam[segment[people]]
        )
        return result

    follows = np.zeros(n, dtype=np.bool_)
    followers = world.followers_at(brand, t0)
    follows[followers] = True
    media_boost = 1.25 if post.media else 1.0

    seen_f = followers[chance(np.full(followers.size, cfg.feed_visibility), followers)]
    pool = world.topic_pool(topic)
    pool = pool[~follows[pool]]
    strength = cfg.algorithmic_reach * media_boost * pop.interests[pool, topic].astype(np.float64)
    seen_a = pool[chance(strength, pool)]
    viewers = [seen_f, seen_a]
    vias = [np.full(seen_f.size, FOLLOWER, np.int8), np.full(seen_a.size, ALGORITHMIC, np.int8)]
    impressions = [1 + rng.poisson(0.3, size=seen_f.size), 1 + rng.poisson(0.3, size=seen_a.size)]

    paid_impressions = int(post.paid_budget_eur / cfg.cpm_eur * 1000)
    if paid_impressions > 0:
        target = world.target_pool(post.targeting, topic)
        if target.size:
            weights = np.cumsum(activity[target] * lam[segment[target]])
            draws = target[
                np.minimum(
                    np.searchsorted(weights, rng.random(paid_impressions) * weights[-1]),
                    target.size - 1,
                )
            ]
            paid, counts = np.unique(draws, return_counts=True)
            organic = np.zeros(n, dtype=np.bool_)
            organic[seen_f] = True
            organic[seen_a] = True
            viewers.append(paid[~organic[paid]])
            vias.append(np.full(viewers[-1].size, PAID, np.int8))
            impressions.append(counts[~organic[paid]])
            # Paid impressions shown to people who also saw the post organically still count.
            extra = int(counts[organic[paid]].sum())
            if extra and impressions[0].size:
                impressions[0] = impressions[0].copy()
                impressions[0][0] += extra

    direct = np.concatenate(viewers).astype(np.int64)
    direct_via = np.concatenate(vias)
    direct_impr = np.concatenate(impressions).astype(np.int32)
    direct_at = t0 + view_offsets(direct)

    # Acting on what one saw.
    satisfaction = pop.satisfaction[:, brand].astype(np.float64)
    receptiveness = world.log_receptiveness[:, topic]

    def base_odds(people: _I64, via: NDArray[np.int8]) -> NDArray[np.float64]:
        odds = (
            receptiveness[segment[people]]
            + cfg.interest_weight * pop.interests[people, topic]
            + pop.propensity[people]
            + cfg.follower_weight * follows[people]
            + 0.5 * satisfaction[people]
        )
        odds = odds + np.where(via == PAID, np.log(cfg.paid_engagement_factor), 0.0)
        odds = odds + np.where(via == CASCADE, cfg.cascade_engagement_boost, 0.0)
        result: NDArray[np.float64] = odds
        return result

    def act(
        people: _I64, at: _I64, via: NDArray[np.int8], logit: float, mean_lag_s: float
    ) -> tuple[_I64, _I64, NDArray[np.int8]]:
        if people.size == 0:
            return people, at, via
        p = _sigmoid(logit + base_odds(people, via))
        hit = rng.random(people.size) < p
        lag = rng.exponential(mean_lag_s, size=int(hit.sum())).astype(np.int64)
        when = at[hit] + 30 + lag
        keep = when < end
        return people[hit][keep], when[keep], via[hit][keep]

    media = cfg.media_weight if post.media else 0.0
    reposter, repost_at, repost_via = act(
        direct, direct_at, direct_via, cfg.repost_logit + media, 360.0
    )

    # Advocates share when asked (most of them).
    advocates = np.unique(np.asarray(post.advocates, dtype=np.int64))
    advocates = advocates[(advocates >= 0) & (advocates < n)]
    if advocates.size:
        sharing = advocates[rng.random(advocates.size) < cfg.advocate_compliance]
        delay = rng.lognormal(np.log(3600.0), 0.7, size=sharing.size).astype(np.int64)
        reposter = np.concatenate([reposter, sharing])
        repost_at = np.concatenate([repost_at, t0 + delay])
        repost_via = np.concatenate([repost_via, np.full(sharing.size, ADVOCATE, np.int8)])
    reposter, repost_at, (first_via,) = _first_occurrence(reposter, repost_at, repost_via)
    repost_via = first_via.astype(np.int8)
    inside = repost_at < end
    reposter, repost_at, repost_via = reposter[inside], repost_at[inside], repost_via[inside]
    repost_source = np.full(reposter.size, -1, dtype=np.int64)

    # The independent cascade over the follower graph.
    if reposter.size:
        cascade = independent_cascade(world.graph, world.influence, reposter, rng)
        time_of = np.full(n, -1, dtype=np.int64)
        time_of[reposter] = repost_at
        children = cascade.step > 0
        nodes, parents, steps = (
            cascade.nodes[children],
            cascade.parent[children],
            cascade.step[children],
        )
        delays = rng.lognormal(np.log(1.5 * 3600), 0.8, size=nodes.size).astype(np.int64)
        for step in range(1, int(steps.max(initial=0)) + 1):
            current = steps == step
            parent_time = time_of[parents[current]]
            child_time = np.where(parent_time >= 0, parent_time + delays[current], -1)
            child_time[child_time >= end] = -1
            time_of[nodes[current]] = child_time
        child_time = time_of[nodes]
        ok = child_time >= 0
        reposter = np.concatenate([reposter, nodes[ok]])
        repost_at = np.concatenate([repost_at, child_time[ok]])
        repost_via = np.concatenate([repost_via, np.full(int(ok.sum()), CASCADE, np.int8)])
        repost_source = np.concatenate([repost_source, parents[ok]])

    # Followers of reposters may see the repost.
    seen = np.zeros(n, dtype=np.bool_)
    seen[direct] = True
    cascade_people: list[_I64] = [np.zeros(0, np.int64)]
    cascade_at: list[_I64] = [np.zeros(0, np.int64)]
    if reposter.size:
        arcs = out_arcs(world.graph, reposter)
        counts = world.graph.indptr[reposter + 1] - world.graph.indptr[reposter]
        source_time = np.repeat(repost_at, counts)
        exposed = world.graph.dst[arcs].astype(np.int64)
        fresh = ~seen[exposed]
        exposed, source_time = exposed[fresh], source_time[fresh]
        sees = chance(np.full(exposed.size, cfg.feed_visibility), exposed)
        exposed, source_time = exposed[sees], source_time[sees]
        exposed_at = source_time + view_offsets(exposed)
        cascade_people.append(exposed)
        cascade_at.append(exposed_at)
        # The cascade's reposters have seen it too.
        new_reposters = reposter[repost_via == CASCADE]
        cascade_people.append(new_reposters[~seen[new_reposters]])
        cascade_at.append(repost_at[repost_via == CASCADE][~seen[new_reposters]] - 60)
    late_people, late_at, _ = _first_occurrence(
        np.concatenate(cascade_people), np.concatenate(cascade_at)
    )
    inside = late_at < end
    late_people, late_at = late_people[inside], late_at[inside]
    late_via = np.full(late_people.size, CASCADE, np.int8)
    late_impr = 1 + rng.poisson(0.2, size=late_people.size).astype(np.int32)

    all_viewers = np.concatenate([direct, late_people])
    all_at = np.concatenate([direct_at, late_at])
    all_via = np.concatenate([direct_via, late_via])
    all_impr = np.concatenate([direct_impr, late_impr])

    like_person, like_at, like_via = act(
        all_viewers, all_at, all_via, cfg.like_logit + media, 240.0
    )
    reply_person, reply_at, _ = act(all_viewers, all_at, all_via, cfg.reply_logit, 600.0)
    if post.link:
        click_person, click_at, click_via = act(
            all_viewers, all_at, all_via, cfg.click_logit, 180.0
        )
    else:
        click_person, click_at = np.zeros(0, np.int64), np.zeros(0, np.int64)
        click_via = np.zeros(0, np.int8)

    # Orders after clicks.
    conversion = world.segment_conversion[segment[click_person]] * cfg.conversion_rate
    conversion = np.clip(conversion * (1.0 + 0.5 * satisfaction[click_person]), 0.0, 1.0)
    buys = np.flatnonzero(rng.random(click_person.size) < conversion)
    wait = np.minimum(rng.lognormal(np.log(1200.0), 1.0, size=buys.size), 86_000).astype(np.int64)
    value_median = (
        cfg.order_value_median_eur * world.segment_order_value[segment[click_person[buys]]]
    )
    value = rng.lognormal(np.log(value_median), cfg.order_value_sigma)

    return PostOutcome(
        post=post,
        viewers=all_viewers,
        view_at=all_at,
        view_via=all_via,
        impressions=all_impr,
        like_person=like_person,
        like_at=like_at,
        like_via=like_via,
        reply_person=reply_person,
        reply_at=reply_at,
        repost_person=reposter,
        repost_at=repost_at,
        repost_via=repost_via,
        repost_source=repost_source,
        click_person=click_person,
        click_at=click_at,
        click_via=click_via,
        purchase_click=buys.astype(np.int64),
        purchase_at=click_at[buys] + 60 + wait,
        purchase_value=np.round(value, 2),
    )
