"""The simulated world: people, graph, rhythms and brands, and the stream of what happens.

``World(config)`` builds everything that does not change (a pure function of the seed and the
configuration, well under a second for 20,000 people). :meth:`World.events` then answers "what
happened between t0 and t1" for any window, deterministically and incrementally: time is cut
into UTC days, each day's happenings are drawn from streams keyed by the day (so no day depends
on another being generated first), and an event caused on one day may land on a later one (a
comment two days after a post), at most :data:`MAX_LAG_DAYS` later. Asking for a window in one
call or in many small ones gives exactly the same events, in the same order.

The sandbox provider talks to a world through:

* :meth:`events` for the inbound stream (messages, engagement, follows, orders);
* :meth:`simulate_post` for a post someone publishes (its outcome is a function of its id),
  and :meth:`outcome_of` for the brand posts found in the history;
* :meth:`follow_up` for what a person writes after a reply (or after being ignored);
* :meth:`author`, :meth:`brand_account`, :meth:`follower_count` for profiles and counts.

Until ``config.live_from`` the workspace's brand (``brands[0]``) posts and answers by itself, so
the history is complete; from then on :meth:`events` leaves those to the people using Dialogo,
and the provider feeds their posts (:meth:`simulate_post`) and replies (:meth:`follow_up`) back.
Competitors stay on autopilot for ever.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import heapq
import random
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dialogo.simulation.clock import HourMapper, ceil_seconds, from_seconds, to_seconds
from dialogo.simulation.config import BrandSpec, WorldConfig
from dialogo.simulation.conversation import (
    CHASE_PROBABILITY,
    follow_up_behaviour,
    working_answer_time,
)
from dialogo.simulation.engagement import PostOutcome, PostSpec, Targeting, simulate_post
from dialogo.simulation.events import (
    BrandPost,
    BrandReply,
    Event,
    Follow,
    Message,
    sort_key,
)
from dialogo.simulation.graph import DiGraph, generate_follower_graph, influence_probabilities
from dialogo.simulation.population import Population, generate_population
from dialogo.simulation.rhythms import online_matrix
from dialogo.simulation.rng import py_random, stream
from dialogo.simulation.taxonomy import (
    AGE_BANDS,
    ASPECTS,
    PLACES,
    REGION_INDEX,
    TOPIC_INDEX,
    TOPICS,
)
from dialogo.simulation.text import TextWriter

DAY = 86_400
MAX_LAG_DAYS = 5  # an event lands at most this many days after the day that caused it
#: Days whose brand posts :meth:`World.scheduled_posts` remembers (a few kB each).
POSTS_CACHE_DAYS = 800
NEVER = np.iinfo(np.int64).max
_FOLLOWUP_CAP = 90 * 3600  # follow-ups come within 90 hours of the first message

_COMPLAINT_ASPECTS = (0.35, 0.15, 0.2, 0.15, 0.08, 0.07)  # order of ASPECTS
_QUESTION_ASPECTS = (0.35, 0.1, 0.2, 0.1, 0.15, 0.1)


def _event_time(event: Event) -> dt.datetime:
    return event.at


def _day_label(day: int) -> str:
    return from_seconds(day * DAY).strftime("%Y%m%d")


class World:
    """A deterministic simulated social network (see the module docstring)."""

    def __init__(self, config: WorldConfig | None = None, *, cache_days: int = 16) -> None:
        self.config = config if config is not None else WorldConfig()
        cfg = self.config
        self.seed = cfg.seed
        self.population: Population = generate_population(cfg)
        self.graph: DiGraph = generate_follower_graph(self.population, cfg)
        self.influence: NDArray[np.float32] = influence_probabilities(
            self.graph, self.population, cfg
        )
        self.online = online_matrix(cfg.segments)
        self.mapper = HourMapper(cfg.timezone)
        self.writer = TextWriter(cfg.brands)
        segments = cfg.segments
        self.log_receptiveness = np.log(
            np.array([[s.receptiveness_of(t) for t in TOPICS] for s in segments])
        )
        self.segment_conversion = np.array([s.conversion for s in segments])
        self.segment_order_value = np.array([s.order_value for s in segments])
        self._brand_index = {b.handle: i for i, b in enumerate(cfg.brands)}
        self._topic_pools = [
            np.flatnonzero(self.population.interests[:, t] > 0) for t in range(len(TOPICS))
        ]
        self._followers_count = self.graph.out_degree()
        self._place_city = self._nearest_cities()
        self._follow_time = self._follow_schedule()
        self._follow_sorted = []
        for b in range(len(cfg.brands)):
            order = np.argsort(self._follow_time[b], kind="stable")
            self._follow_sorted.append((self._follow_time[b][order], order))
        self._message_authors = self._message_weights()
        self._chatter_authors = self._chatter_weights()
        self._daily_online = self.online.sum(axis=1) / 7.0
        self._handles: dict[str, int] | None = None
        self._cache: OrderedDict[int, tuple[Event, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self._cache_days = cache_days
        self._holds: list[int] = []  # keeping_days() in progress
        self._posts_cache: OrderedDict[int, tuple[tuple[PostSpec, BrandPost], ...]] = OrderedDict()

    # -- build helpers ---------------------------------------------------------------------------

    def _nearest_cities(self) -> tuple[str, ...]:
        cities: list[str] = []
        for place in PLACES:
            if place.name.endswith("(altro)"):
                first = next(
                    p.name
                    for p in PLACES
                    if p.region == place.region and not p.name.endswith("(altro)")
                )
                cities.append(first)
            else:
                cities.append(place.name)
        return tuple(cities)

    def _follow_schedule(self) -> NDArray[np.int64]:
        """When each person follows each brand (epoch seconds; NEVER if they do not)."""
        cfg = self.config
        rng = stream(cfg.seed, "follows")
        pop = self.population
        n = pop.size
        start = to_seconds(cfg.start)
        times = np.full((len(cfg.brands), n), NEVER, dtype=np.int64)
        for b, brand in enumerate(cfg.brands):
            aware = pop.aware[:, b].astype(np.float64)
            weight = np.where(aware > 0, 0.5 + aware, 0.0)
            mean = weight[aware > 0].mean() if (aware > 0).any() else 1.0
            initial = rng.random(n) < np.clip(brand.follower_share * weight / mean, 0.0, 1.0)
            before = rng.integers(1, 730 * DAY, size=n)
            times[b, initial] = start - before[initial]
            # Newcomers: an exponential waiting time, faster for those who know the brand.
            category = TOPIC_INDEX[brand.category]
            pull = (aware + 0.05 * (pop.interests[:, category] > 0)) * ~initial
            total = pull.sum()
            if total > 0:
                per_day = cfg.behaviour.follower_growth * initial.sum() / cfg.history_days
                hazard = per_day * pull / total  # per person per day
                with np.errstate(divide="ignore"):
                    wait = rng.exponential(1.0, size=n) / hazard
                later = (pull > 0) & (wait < 3650)
                times[b, later] = start + (wait[later] * DAY).astype(np.int64)
        return times

    def _message_weights(self) -> list[list[tuple[NDArray[np.int64], NDArray[np.float64]]]]:
        """Per brand and segment: who may write about the brand, and how much (cumulative)."""
        pop = self.population
        out = []
        for b in range(len(self.config.brands)):
            aware = pop.aware[:, b].astype(np.float64)
            unhappy = np.maximum(0.0, -pop.satisfaction[:, b])
            weight = pop.activity * (0.4 + aware) * (1.0 + 1.2 * unhappy) * (aware > 0)
            per_segment = []
            for s in range(len(self.config.segments)):
                members = np.flatnonzero((pop.segment == s) & (weight > 0))
                per_segment.append((members, np.cumsum(weight[members])))
            out.append(per_segment)
        return out

    def _chatter_weights(self) -> list[tuple[NDArray[np.int64], NDArray[np.float64]]]:
        pop = self.population
        has_interest = pop.interests.sum(axis=1) > 0
        weight = pop.activity * has_interest
        out = []
        for s in range(len(self.config.segments)):
            members = np.flatnonzero((pop.segment == s) & has_interest)
            out.append((members, np.cumsum(weight[members])))
        return out

    # -- identity and lookups --------------------------------------------------------------------

    @property
    def brands(self) -> tuple[BrandSpec, ...]:
        return self.config.brands

    def brand_index(self, handle: str) -> int:
        try:
            return self._brand_index[handle]
        except KeyError:
            raise KeyError(f"no brand with handle {handle!r} in this world") from None

    def segment_index(self, key: str) -> int:
        for i, segment in enumerate(self.config.segments):
            if segment.key == key:
                return i
        raise KeyError(f"no segment {key!r}")

    def followers_at(self, brand: int, at: int) -> NDArray[np.int64]:
        """Ids of the people following brand ``brand`` at epoch second ``at``."""
        times, order = self._follow_sorted[brand]
        return np.sort(order[: int(np.searchsorted(times, at, side="right"))])

    def follower_count(self, handle: str, at: dt.datetime) -> int:
        times, _ = self._follow_sorted[self.brand_index(handle)]
        return int(np.searchsorted(times, to_seconds(at), side="right"))

    def follow_time(self, handle: str, person: int) -> dt.datetime | None:
        value = int(self._follow_time[self.brand_index(handle), person])
        return None if value == NEVER else from_seconds(value)

    def author(self, person: int) -> dict[str, Any]:
        """Fields of ``providers.base.Author`` for one person."""
        pop = self.population
        return {
            "remote_id": pop.remote_id(person),
            "handle": pop.handle(person),
            "display_name": pop.display_name(person),
            "followers": int(self._followers_count[person]),
        }

    def brand_account(self, handle: str, at: dt.datetime) -> dict[str, Any]:
        """Fields of ``providers.base.Account`` for a brand at an instant."""
        brand = self.brands[self.brand_index(handle)]
        return {
            "remote_id": f"brand:{brand.handle}",
            "handle": brand.handle,
            "display_name": brand.name,
            "url": f"https://{brand.domain}",
            "followers": self.follower_count(handle, at),
        }

    def person_by_handle(self, handle: str) -> int:
        if self._handles is None:
            pop = self.population
            self._handles = {pop.handle(i): i for i in range(pop.size)}
        return self._handles[handle.lstrip("@")]

    def city_of(self, person: int) -> str:
        return self._place_city[int(self.population.place[person])]

    def topic_pool(self, topic: int) -> NDArray[np.int64]:
        """People with an interest in ``topic``."""
        pool: NDArray[np.int64] = self._topic_pools[topic]
        return pool

    def target_pool(self, targeting: Targeting, topic: int) -> NDArray[np.int64]:
        """The people a paid budget with ``targeting`` can be shown to."""
        pop = self.population
        mask = np.ones(pop.size, dtype=np.bool_)
        if targeting.interested_only:
            mask &= pop.interests[:, topic] > 0
        if targeting.segments is not None:
            wanted = [self.segment_index(k) for k in targeting.segments]
            mask &= np.isin(pop.segment, wanted)
        if targeting.regions is not None:
            wanted = [REGION_INDEX[r] for r in targeting.regions]
            mask &= np.isin(pop.region, wanted)
        if targeting.age_bands is not None:
            wanted = [AGE_BANDS.index(a) for a in targeting.age_bands]
            mask &= np.isin(pop.age_band, wanted)
        return np.flatnonzero(mask)

    def online_probability(self, segment: int, when: dt.datetime) -> float:
        """Chance that an average member of ``segment`` is online in the hour of ``when``."""
        return float(self.online[segment, self.mapper.local_hour_of_week(when)])

    def autopilot(self, brand: int, at: int) -> bool:
        """Whether the brand's own team (simulated) posts and answers at epoch second ``at``."""
        return brand != 0 or at < to_seconds(self.config.live_from)

    # -- posts -----------------------------------------------------------------------------------

    def simulate_post(self, post: PostSpec, realisation: int | None = None) -> PostOutcome:
        """What happens to a post. With ``realisation=None`` this is *the* outcome in this world
        (a function of the post's id); other values give alternative draws (Monte Carlo)."""
        keys: tuple[int | str, ...] = (post.id,) if realisation is None else (post.id, realisation)
        return simulate_post(self, post, stream(self.seed, "post", *keys))

    def outcome_of(self, post: BrandPost) -> PostOutcome:
        """The outcome of a brand post found in the history (as the history generated it)."""
        return self.simulate_post(
            PostSpec(
                id=post.id,
                brand=post.brand,
                at=post.at,
                topic=post.topic,
                media=post.media,
                link=post.link is not None,
                language=post.language,
                paid_budget_eur=post.paid_budget_eur,
            )
        )

    def scheduled_posts(self, day: int) -> list[tuple[PostSpec, BrandPost]]:
        """The brands' own posts on UTC day ``day`` (days since the epoch). Remembered for the
        last :data:`POSTS_CACHE_DAYS` days asked for: the day generator, the history post
        lookup behind every metrics fetch and the audience steps all ask for the same days."""
        with self._lock:
            cached = self._posts_cache.get(day)
            if cached is not None:
                self._posts_cache.move_to_end(day)
                return list(cached)
        made = tuple(self._make_scheduled_posts(day))
        with self._lock:
            self._posts_cache[day] = made
            while len(self._posts_cache) > POSTS_CACHE_DAYS:
                self._posts_cache.popitem(last=False)
        return list(made)

    def _make_scheduled_posts(self, day: int) -> list[tuple[PostSpec, BrandPost]]:
        out: list[tuple[PostSpec, BrandPost]] = []
        date = from_seconds(day * DAY).date()
        for b, brand in enumerate(self.brands):
            rng = stream(self.seed, "brand-posts", brand.handle, day)
            rnd = py_random(rng)
            count = min(int(rng.poisson(brand.posts_per_day)), len(brand.post_hours))
            hours = np.array([h for h, _ in brand.post_hours])
            weights = np.array([w for _, w in brand.post_hours], dtype=np.float64)
            chosen = np.sort(
                rng.choice(hours, size=count, replace=False, p=weights / weights.sum())
            )
            topics = [t for t, _ in brand.topic_mix]
            topic_w = np.array([w for _, w in brand.topic_mix], dtype=np.float64)
            for k, hour in enumerate(chosen):
                minute = int(rng.choice([0, 0, 15, 30, 30, 45])) + int(rng.integers(0, 4))
                at = self.mapper.to_utc(date, int(hour), minute)
                topic = topics[int(rng.choice(len(topics), p=topic_w / topic_w.sum()))]
                media = bool(rng.random() < brand.media_share)
                has_link = bool(rng.random() < brand.link_share)
                english = bool(rng.random() < 0.1)
                boosted = rng.random() < brand.boost_share
                budget = float(rng.gamma(4.0, brand.boost_budget_eur / 4.0)) if boosted else 0.0
                seconds = to_seconds(at)
                if not (day * DAY <= seconds < (day + 1) * DAY) or not self.autopilot(b, seconds):
                    continue
                post_id = f"p-{brand.handle}-{_day_label(day)}-{k}"
                link = (
                    f"https://{brand.domain}/p/{post_id}?utm_source=social&utm_campaign={post_id}"
                    if has_link
                    else None
                )
                language = "en" if english else "it"
                text = self.writer.brand_post(
                    rnd,
                    language=language,
                    brand=b,
                    topic=topic,
                    # A city in Italy (the last places are abroad).
                    city=self._place_city[int(rng.integers(0, len(PLACES) - 10))],
                    link=link,
                )
                spec = PostSpec(
                    id=post_id,
                    brand=brand.handle,
                    at=at,
                    topic=topic,
                    media=media,
                    link=has_link,
                    language=language,
                    paid_budget_eur=round(budget, 2),
                )
                event = BrandPost(
                    id=post_id,
                    at=at,
                    brand=brand.handle,
                    text=text,
                    topic=topic,
                    language=language,
                    media=media,
                    link=link,
                    paid_budget_eur=round(budget, 2),
                )
                out.append((spec, event))
        return out

    # -- conversations ---------------------------------------------------------------------------

    def follow_up(self, message: Message, answered_at: dt.datetime | None) -> list[Message]:
        """What ``message``'s author writes next, given when the brand answered (``None``:
        never). A pure function of the message id and the answer time; messages that expect
        no answer get none. The sandbox provider calls this for the workspace's brand after
        the autopilot ends and shows what is due by the current simulated time."""
        if not message.expects_answer or message.brand is None or message.followup is not None:
            return []
        rng = stream(self.seed, "followup", message.id)
        u = rng.random(6)
        rnd = py_random(rng)
        person = message.author
        self.brand_index(message.brand)
        patience = float(self.population.patience[person])
        sent = to_seconds(message.at)
        answered = None if answered_at is None else max(sent, to_seconds(answered_at))
        delay = None if answered is None else (answered - sent) / 3600.0
        behaviour = follow_up_behaviour(delay, patience, negative=message.sentiment == "neg")
        private = message.kind == "direct"
        out: list[Message] = []
        cap = sent + _FOLLOWUP_CAP
        chase_at = min(sent + int(patience * 3600 * (1.0 + 0.5 * u[0])), cap)
        if (answered is None or answered > chase_at) and u[1] < CHASE_PROBABILITY:
            out.append(self._follow_up_message(message, rnd, "waiting", chase_at, private, None))
        if answered is not None:
            react_at = answered + 300 + int(u[2] * 3 * 3600)
        else:
            react_at = chase_at + int(patience * 3600 * (1.0 + 2.0 * u[3]))
        react_at = min(react_at, cap)
        cumulative = 0.0
        outcome = "nothing"
        for name, probability in behaviour.outcomes():
            cumulative += probability
            if u[4] < cumulative:
                outcome = name
                break
        if outcome != "nothing":
            out.append(self._follow_up_message(message, rnd, outcome, react_at, private, delay))
        return out

    def _follow_up_message(
        self,
        message: Message,
        rnd: random.Random,
        behaviour: str,
        at: int,
        private: bool,
        delay: float | None,
    ) -> Message:
        assert message.brand is not None
        brand = self.brand_index(message.brand)
        if behaviour in ("escalation", "churn"):
            kind = "mention"
        else:
            kind = "direct" if private else "reply"
        text = self.writer.follow_up(
            rnd,
            language=message.language,
            brand=brand,
            behaviour=behaviour,
            aspect=message.aspect or "service",
            city=self.city_of(message.author),
            delay_hours=delay,
            kind=kind,
        )
        positive = behaviour == "thanks"
        return Message(
            id=f"{message.id}:{behaviour[0]}",
            at=from_seconds(at),
            author=message.author,
            kind=kind,  # type: ignore[arg-type]
            text=text,
            language=message.language,
            sentiment="pos" if positive else "neg",
            topic=message.topic,
            intent="praise" if positive else "complaint",
            brand=message.brand,
            conversation_id=message.conversation_id,
            in_reply_to=message.id,
            aspect=message.aspect,
            expects_answer=behaviour in ("waiting", "escalation"),
            followup=behaviour,
        )

    def _autopilot_answer(self, message: Message) -> BrandReply | None:
        """The simulated team's answer to ``message`` (or none)."""
        assert message.brand is not None
        b = self.brand_index(message.brand)
        brand = self.brands[b]
        rng = stream(self.seed, "answers", message.id)
        u, raw = rng.random(), rng.lognormal(np.log(brand.answer_median_hours), 0.9)
        if u >= brand.answer_rate:
            return None
        sent = to_seconds(message.at)
        answered = working_answer_time(self.mapper, sent, float(raw), brand.working_hours)
        if answered is None:
            return None
        text = self.writer.brand_reply(
            py_random(rng),
            language=message.language,
            brand=b,
            intent=message.intent,
            name=self.population.first_name_of(message.author),
        )
        return BrandReply(
            id=f"{message.id}:a",
            at=from_seconds(answered),
            brand=brand.handle,
            text=text,
            language=message.language,
            in_reply_to=message.id,
            conversation_id=message.conversation_id,
            delay_hours=round((answered - sent) / 3600.0, 3),
            private=message.kind == "direct",
        )

    # -- the daily generators --------------------------------------------------------------------

    def _brand_messages(self, day: int) -> list[Message]:
        cfg = self.config
        rng = stream(self.seed, "messages", day)
        rnd = py_random(rng)
        pop = self.population
        hours = np.arange(day * 24, day * 24 + 24, dtype=np.int64)
        how = self.mapper.hour_of_week(hours)
        authors: list[NDArray[np.int64]] = []
        brands: list[NDArray[np.int64]] = []
        times: list[NDArray[np.int64]] = []
        for b in range(len(cfg.brands)):
            for s in range(len(cfg.segments)):
                members, cumulative = self._message_authors[b][s]
                if members.size == 0:
                    continue
                shape = self.online[s, how] / self._daily_online[s]
                expected = cfg.behaviour.brand_message_rate * cumulative[-1] * shape
                counts = rng.poisson(expected)
                total = int(counts.sum())
                if total == 0:
                    continue
                pick = np.searchsorted(cumulative, rng.random(total) * cumulative[-1])
                authors.append(members[np.minimum(pick, members.size - 1)])
                brands.append(np.full(total, b, dtype=np.int64))
                seconds = np.repeat(hours * 3600, counts) + rng.integers(0, 3600, size=total)
                times.append(seconds)
        if not authors:
            return []
        author = np.concatenate(authors)
        brand = np.concatenate(brands)
        at = np.concatenate(times)
        order = np.lexsort((author, at))
        author, brand, at = author[order], brand[order], at[order]
        count = author.size
        score = pop.satisfaction[author, brand] + rng.normal(0.0, 0.35, size=count)
        u = rng.random((count, 6))
        english = u[:, 0] < pop.english[author]
        label = _day_label(day)
        out: list[Message] = []
        for k in range(count):
            person, b = int(author[k]), int(brand[k])
            sentiment = "neg" if score[k] < -0.2 else "pos" if score[k] > 0.4 else "neu"
            intent = self._intent(sentiment, float(u[k, 1]))
            kind = self._kind(intent, float(u[k, 2]))
            topic = self._message_topic(person, self.brands[b].category, float(u[k, 3]))
            aspect = self._aspect(intent, float(u[k, 4]))
            language = "en" if english[k] else "it"
            written = self.writer.brand_message(
                rnd,
                language=language,
                brand=b,
                intent=intent,
                sentiment=sentiment,
                topic=topic,
                aspect=aspect,
                kind=kind,
                city=self.city_of(person),
            )
            if not written.topical:
                topic = self.brands[b].category  # the text does not speak of the interest
            message_id = f"m{label}-{k:05d}"
            out.append(
                Message(
                    id=message_id,
                    at=from_seconds(at[k]),
                    author=person,
                    kind=kind,  # type: ignore[arg-type]
                    text=written.text,
                    language=language,
                    sentiment=sentiment,  # type: ignore[arg-type]
                    topic=topic,
                    intent=intent,  # type: ignore[arg-type]
                    brand=self.brands[b].handle,
                    conversation_id=message_id,
                    aspect=aspect if intent in ("question", "complaint") else None,
                    expects_answer=intent in ("question", "complaint") and kind != "post",
                )
            )
        return out

    @staticmethod
    def _intent(sentiment: str, u: float) -> str:
        if sentiment == "neg":
            return "complaint" if u < 0.7 else "question" if u < 0.9 else "other"
        if sentiment == "pos":
            return "praise" if u < 0.8 else "other" if u < 0.95 else "question"
        return "question" if u < 0.55 else "other"

    @staticmethod
    def _kind(intent: str, u: float) -> str:
        if intent == "complaint":
            return "mention" if u < 0.55 else "direct" if u < 0.85 else "post"
        if intent == "question":
            return "mention" if u < 0.4 else "direct" if u < 0.85 else "post"
        return "mention" if u < 0.55 else "post"

    def _message_topic(self, person: int, category: str, u: float) -> str:
        if u < 0.65:
            return category
        interests = self.population.interests[person].astype(np.float64)
        total = interests.sum()
        if total <= 0:
            return category
        position = (u - 0.65) / 0.35 * total
        index = int(np.searchsorted(np.cumsum(interests), position, side="right"))
        return TOPICS[min(index, len(TOPICS) - 1)]

    @staticmethod
    def _aspect(intent: str, u: float) -> str:
        weights = _COMPLAINT_ASPECTS if intent == "complaint" else _QUESTION_ASPECTS
        cumulative = 0.0
        for aspect, weight in zip(ASPECTS, weights, strict=True):
            cumulative += weight
            if u < cumulative:
                return aspect
        return ASPECTS[0]

    def _chatter(self, day: int) -> list[Message]:
        cfg = self.config
        rng = stream(self.seed, "chatter", day)
        rnd = py_random(rng)
        pop = self.population
        hours = np.arange(day * 24, day * 24 + 24, dtype=np.int64)
        how = self.mapper.hour_of_week(hours)
        authors: list[NDArray[np.int64]] = []
        times: list[NDArray[np.int64]] = []
        for s in range(len(cfg.segments)):
            members, cumulative = self._chatter_authors[s]
            if members.size == 0:
                continue
            shape = self.online[s, how] / self._daily_online[s]
            counts = rng.poisson(cfg.behaviour.chatter_rate * cumulative[-1] * shape)
            total = int(counts.sum())
            if total == 0:
                continue
            pick = np.searchsorted(cumulative, rng.random(total) * cumulative[-1])
            authors.append(members[np.minimum(pick, members.size - 1)])
            times.append(np.repeat(hours * 3600, counts) + rng.integers(0, 3600, size=total))
        if not authors:
            return []
        author = np.concatenate(authors)
        at = np.concatenate(times)
        order = np.lexsort((author, at))
        author, at = author[order], at[order]
        baseline = np.array([s.sentiment_baseline for s in cfg.segments])[pop.segment[author]]
        u = rng.random((author.size, 3))
        label = _day_label(day)
        out: list[Message] = []
        for k in range(author.size):
            person = int(author[k])
            interests = pop.interests[person].astype(np.float64)
            cumulative = np.cumsum(interests)
            topic_index = int(np.searchsorted(cumulative, u[k, 0] * cumulative[-1], side="right"))
            topic = TOPICS[min(topic_index, len(TOPICS) - 1)]
            p_pos = 0.45 + baseline[k]
            p_neg = 0.2 - baseline[k] / 2
            sentiment = "pos" if u[k, 1] < p_pos else "neg" if u[k, 1] < p_pos + p_neg else "neu"
            language = "en" if u[k, 2] < pop.english[person] else "it"
            text = self.writer.chatter(rnd, language=language, sentiment=sentiment, topic=topic)
            message_id = f"c{label}-{k:05d}"
            out.append(
                Message(
                    id=message_id,
                    at=from_seconds(at[k]),
                    author=person,
                    kind="post",
                    text=text,
                    language=language,
                    sentiment=sentiment,  # type: ignore[arg-type]
                    topic=topic,
                    intent="other",
                    brand=None,
                    conversation_id=message_id,
                )
            )
        return out

    def _follows(self, day: int) -> list[Follow]:
        out: list[Follow] = []
        lo, hi = day * DAY, (day + 1) * DAY
        for b, brand in enumerate(self.brands):
            times, order = self._follow_sorted[b]
            first = int(np.searchsorted(times, lo, side="left"))
            last = int(np.searchsorted(times, hi, side="left"))
            for k in range(first, last):
                person = int(order[k])
                out.append(
                    Follow(
                        id=f"f-{brand.handle}-{person}",
                        at=from_seconds(times[k]),
                        person=person,
                        brand=brand.handle,
                    )
                )
        return out

    def day_events(self, day: int) -> tuple[Event, ...]:
        """Everything caused on UTC day ``day`` (days since the epoch), sorted; events land on
        ``[day, day + MAX_LAG_DAYS)``. Cached (a few days) since windows overlap."""
        with self._lock:
            cached = self._cache.get(day)
            if cached is not None:
                self._cache.move_to_end(day)
                return cached
        result = self._generate_day(day)
        with self._lock:
            self._cache[day] = result
            while len(self._cache) > self._cache_bound():
                self._cache.popitem(last=False)
        return result

    @contextlib.contextmanager
    def keeping_days(self, days: int) -> Iterator[None]:
        """Keep at least ``days`` generated days cached while the block runs, then go back to
        the usual bound. For a reader that goes over a long stretch several times (the demo's
        build reads its 90-day history once per listening search term, then again for the
        inbox and the audience): each day is generated once instead of once per pass. A day
        of a 20,000-person world is about 700 events, a few hundred kB."""
        with self._lock:
            self._holds.append(days)
        try:
            yield
        finally:
            with self._lock:
                self._holds.remove(days)
                while len(self._cache) > self._cache_bound():
                    self._cache.popitem(last=False)

    def _cache_bound(self) -> int:
        return max(self._cache_days, *self._holds) if self._holds else self._cache_days

    def _generate_day(self, day: int) -> tuple[Event, ...]:
        events: list[Event] = []
        roots: list[Message] = []
        for spec, post in self.scheduled_posts(day):
            events.append(post)
            outcome = self.simulate_post(spec)
            happened = outcome.events(self)
            events.extend(happened)
            roots.extend(e for e in happened if isinstance(e, Message) and e.expects_answer)
        messages = self._brand_messages(day)
        events.extend(messages)
        roots.extend(m for m in messages if m.expects_answer)
        events.extend(self._chatter(day))
        events.extend(self._follows(day))
        for message in roots:
            assert message.brand is not None
            sent = to_seconds(message.at)
            if not self.autopilot(self.brand_index(message.brand), sent):
                continue
            answer = self._autopilot_answer(message)
            if answer is not None:
                events.append(answer)
            events.extend(self.follow_up(message, None if answer is None else answer.at))
        limit = from_seconds((day + MAX_LAG_DAYS) * DAY)
        events = [e for e in events if e.at < limit]
        events.sort(key=sort_key)
        return tuple(events)

    # -- the stream ------------------------------------------------------------------------------

    def events(self, start: dt.datetime, end: dt.datetime) -> Iterator[Event]:
        """Every event with ``start <= at < end``, in order of ``(at, id)``. Deterministic and
        incremental: consecutive windows give exactly the events of their union."""
        # Event times are whole seconds: at >= start ⇔ at >= ceil(start), same for end.
        lo, hi = ceil_seconds(start), ceil_seconds(end)
        if hi <= lo:
            return
        first_day = lo // DAY - MAX_LAG_DAYS + 1
        last_day = (hi - 1) // DAY
        pending: list[tuple[dt.datetime, str, int, Event]] = []
        counter = 0
        lo_at, hi_at = from_seconds(lo), from_seconds(hi)
        for day in range(first_day, last_day + 1):
            happened = self.day_events(day)  # sorted by (at, id)
            first = bisect.bisect_left(happened, lo_at, key=_event_time)
            last = bisect.bisect_left(happened, hi_at, key=_event_time)
            for event in happened[first:last]:
                heapq.heappush(pending, (event.at, event.id, counter, event))
                counter += 1
            settled = from_seconds((day + 1) * DAY)
            while pending and pending[0][0] < settled:
                yield heapq.heappop(pending)[3]
        while pending:
            yield heapq.heappop(pending)[3]

    def history(self) -> Iterator[Event]:
        """The configured history: ``config.start`` to ``config.end``."""
        return self.events(self.config.start, self.config.end)

    def messages(self, start: dt.datetime, end: dt.datetime) -> list[Message]:
        return [e for e in self.events(start, end) if isinstance(e, Message)]

    def ground_truth(self, **options: Any) -> dict[str, Any]:
        """See :func:`dialogo.simulation.truth.ground_truth`."""
        from dialogo.simulation.truth import ground_truth

        return ground_truth(self, **options)

    def __repr__(self) -> str:
        return (
            f"World(seed={self.seed}, people={self.population.size}, arcs={self.graph.m}, "
            f"brands={[b.handle for b in self.brands]})"
        )


def build_world(seed: int = 42, population: int = 20_000, **changes: Any) -> World:
    """A world from the default scenario with a few settings changed."""
    return World(WorldConfig(seed=seed, population=population, **changes))


def epoch_day(when: dt.datetime) -> int:
    return to_seconds(when) // DAY


__all__: Sequence[str] = ("DAY", "MAX_LAG_DAYS", "World", "build_world", "epoch_day")
