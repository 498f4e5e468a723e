"""What the sandbox offers the interaction graph: its follower graph and the propagation seen in
the cascades of the brand's posts (who reposted because of whom), over the brand's history.

:func:`observe` is pure (a world in, arrays out); :func:`sandbox_evidence` maps it onto
contacts. For the demo and for a rebuild of a workspace with sandbox channels.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt

import numpy as np
from numpy.typing import NDArray

from dialogo.influence.service import Evidence
from dialogo.simulation.clock import from_seconds, to_seconds
from dialogo.simulation.engagement import PostOutcome
from dialogo.simulation.world import World

DAY = 86_400


@dataclasses.dataclass(frozen=True)
class Observed:
    """Per person (arrays of length ``population``): cascades taken part in (reposts), likes +
    reposts + clicks + replies, the last engagement (epoch seconds, -1: never); and the
    observed propagations ``(source, target)`` (target reposted what it saw from source)."""

    activations: NDArray[np.int64]
    engagement: NDArray[np.int64]
    last_engaged: NDArray[np.int64]
    prop_src: NDArray[np.int64]
    prop_dst: NDArray[np.int64]
    posts: int


def brand_outcomes(world: World, brand: str, end: dt.datetime) -> list[PostOutcome]:
    """The outcomes of the brand's own posts published before ``end`` in the history."""
    first = to_seconds(world.config.start) // DAY
    last = min(to_seconds(end), to_seconds(world.config.end)) // DAY
    out: list[PostOutcome] = []
    for day in range(first, last + 1):
        for _spec, post in world.scheduled_posts(day):
            if post.brand == brand and post.at < end:
                out.append(world.outcome_of(post))
    return out


def observe(world: World, outcomes: list[PostOutcome]) -> Observed:
    n = world.population.size
    activations = np.zeros(n, dtype=np.int64)
    engagement = np.zeros(n, dtype=np.int64)
    last = np.full(n, -1, dtype=np.int64)
    src: list[NDArray[np.int64]] = []
    dst: list[NDArray[np.int64]] = []
    for o in outcomes:
        # a person reposting a post counts once per post
        activations[np.unique(o.repost_person)] += 1
        for people, times in (
            (o.like_person, o.like_at),
            (o.repost_person, o.repost_at),
            (o.click_person, o.click_at),
            (o.reply_person, o.reply_at),
        ):
            if people.size:
                np.add.at(engagement, people, 1)
                np.maximum.at(last, people, times)
        cascade = o.repost_source >= 0
        src.append(o.repost_source[cascade].astype(np.int64))
        dst.append(o.repost_person[cascade].astype(np.int64))
    empty = np.zeros(0, dtype=np.int64)
    return Observed(
        activations,
        engagement,
        last,
        np.concatenate(src) if src else empty,
        np.concatenate(dst) if dst else empty,
        len(outcomes),
    )


def audience_of(world: World, brand: str, end: dt.datetime, observed: Observed) -> list[int]:
    """The brand's followers at ``end`` and everyone who engaged with its posts."""
    followers = world.followers_at(world.brand_index(brand), to_seconds(end))
    engaged = np.flatnonzero(observed.engagement > 0)
    return sorted(set(followers.tolist()) | set(engaged.tolist()))


def sandbox_evidence(world: World, observed: Observed, contacts: dict[int, int]) -> Evidence:
    """:class:`Evidence` over contacts (person → contact id): follow arcs among them, the
    propagations between them, activations, engagement and follower counts."""
    people = np.array(sorted(contacts), dtype=np.int64)
    member = np.zeros(world.population.size, dtype=np.bool_)
    member[people] = True
    g = world.graph
    keep = member[g.src] & member[g.dst]
    follows = [
        (contacts[int(s)], contacts[int(t)]) for s, t in zip(g.src[keep], g.dst[keep], strict=True)
    ]
    keep_p = member[observed.prop_src] & member[observed.prop_dst]
    propagations = [
        (contacts[int(s)], contacts[int(t)])
        for s, t in zip(observed.prop_src[keep_p], observed.prop_dst[keep_p], strict=True)
    ]
    followers = g.out_degree()
    return Evidence(
        follows=follows,
        propagations=propagations,
        activations={
            contacts[int(p)]: int(observed.activations[p])
            for p in people
            if observed.activations[p] > 0
        },
        followers={contacts[int(p)]: int(followers[p]) for p in people},
        engagement={
            contacts[int(p)]: int(observed.engagement[p])
            for p in people
            if observed.engagement[p] > 0
        },
    )


def engagement_of(
    observed: Observed, people: list[int]
) -> dict[int, tuple[int, dt.datetime | None]]:
    out: dict[int, tuple[int, dt.datetime | None]] = {}
    for p in people:
        count = int(observed.engagement[p])
        at = int(observed.last_engaged[p])
        out[p] = (count, from_seconds(at) if at >= 0 else None)
    return out


def propagation_counts(
    world: World, observed: Observed
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Per arc of the world's follower graph: ``(trials, successes)`` from ``observed``."""
    g = world.graph
    n = world.population.size
    trials = observed.activations[g.src].astype(np.int64)
    keys = g.src.astype(np.int64) * n + g.dst.astype(np.int64)
    order = np.argsort(keys)
    hits = collections.Counter((observed.prop_src * n + observed.prop_dst).tolist())
    successes = np.zeros(keys.size, dtype=np.int64)
    if hits:
        wanted = np.array(list(hits), dtype=np.int64)
        at = np.searchsorted(keys[order], wanted)
        ok = (at < keys.size) & (keys[order][np.minimum(at, keys.size - 1)] == wanted)
        successes[order[at[ok]]] = np.array([hits[int(w)] for w in wanted[ok]], dtype=np.int64)
    return trials, np.minimum(successes, trials)
