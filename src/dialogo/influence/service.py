"""Word of mouth: the interaction graph between contacts, the influencer ranking, and advocate
selection by influence maximisation.

The graph is built from what Dialogo stored (the inbox's messages: a contact replying to
another contact's message, or mentioning another contact's handle) plus :class:`Evidence` a
caller brings (for sandbox channels, :mod:`dialogo.influence.sandbox` brings the simulation's
follower graph and the reposts seen in the brand's cascades). Arc ``source → target`` means
``target`` acts after ``source``; its probability is estimated from observed propagation where
there is evidence, weighted cascade otherwise
(:func:`dialogo.influence.ranking.estimate_probabilities`).

Who may do what: ``audience.read`` to read the graph, the ranking and to plan advocates,
``audience.manage`` to rebuild. Services flush; the caller commits.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.audience.models import ContactInterest
from dialogo.core.clock import utcnow
from dialogo.core.errors import InvalidInput, NotFound
from dialogo.inbox.models import Contact, ContactIdentity, Message
from dialogo.influence.graph import InfluenceGraph
from dialogo.influence.imm import imm, monte_carlo_spread
from dialogo.influence.models import InfluenceEdge, InfluenceScore
from dialogo.influence.ranking import estimate_probabilities, rank_influencers

MENTION = re.compile(r"(?<![\w@])@([\w.\-]{2,100})")
MAX_K = 200
MAX_RUNS = 20_000


@dataclasses.dataclass
class Evidence:
    """What a caller observed outside the inbox, keyed by contact id.

    ``follows``: ``(source, target)``, target follows source. ``propagations``: ``(source,
    target)``, one per time target acted (reposted, …) because of source. ``activations``:
    how many cascades each contact took part in (the trials of its out-arcs).
    ``followers``, ``engagement``: per-contact counts that replace / add to the stored ones."""

    follows: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    propagations: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    activations: dict[int, int] = dataclasses.field(default_factory=dict)
    followers: dict[int, int] = dataclasses.field(default_factory=dict)
    engagement: dict[int, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class GraphSummary:
    nodes: int
    arcs: int
    observed_arcs: int
    replies: int
    mentions: int
    follows: int
    propagations: int


def _message_interactions(
    session: Session, workspace_id: int
) -> tuple[
    collections.Counter[tuple[int, int]],
    collections.Counter[tuple[int, int]],
    collections.Counter[int],
]:
    """``(replies, mentions, messages per author)`` from the inbox's inbound messages."""
    rows = session.execute(
        select(
            Message.channel_id,
            Message.remote_id,
            Message.in_reply_to,
            Message.contact_id,
            Message.text,
        ).where(
            Message.workspace_id == workspace_id,
            Message.direction == "inbound",
            Message.contact_id.is_not(None),
        )
    ).all()
    author = {(r.channel_id, r.remote_id): int(r.contact_id) for r in rows}
    handles: dict[str, int] = {}
    for handle, contact_id in session.execute(
        select(ContactIdentity.handle, ContactIdentity.contact_id).where(
            ContactIdentity.workspace_id == workspace_id, ContactIdentity.handle != ""
        )
    ):
        handles[handle.lower().lstrip("@")] = int(contact_id)
    replies: collections.Counter[tuple[int, int]] = collections.Counter()
    mentions: collections.Counter[tuple[int, int]] = collections.Counter()
    written: collections.Counter[int] = collections.Counter()
    for r in rows:
        me = int(r.contact_id)
        written[me] += 1
        if r.in_reply_to:
            parent = author.get((r.channel_id, r.in_reply_to))
            if parent is not None and parent != me:
                replies[(parent, me)] += 1
        for name in MENTION.findall(r.text or ""):
            other = handles.get(name.lower().rstrip("."))
            if other is not None and other != me:
                mentions[(other, me)] += 1
    return replies, mentions, written


def build_graph(
    session: Session,
    workspace_id: int,
    evidence: Evidence | None = None,
    *,
    now: dt.datetime | None = None,
) -> GraphSummary:
    """Rebuild the workspace's interaction graph and ranking (replacing the previous ones).
    Internal: the boundary authorises (see :func:`rebuild`)."""
    evidence = evidence or Evidence()
    now = now or utcnow()
    contact_ids = {
        int(i)
        for i in session.scalars(select(Contact.id).where(Contact.workspace_id == workspace_id))
    }
    replies, mentions, written = _message_interactions(session, workspace_id)
    follows = {(s, t) for s, t in evidence.follows if s != t}
    propagations = collections.Counter((s, t) for s, t in evidence.propagations if s != t)
    for s, t in [*follows, *propagations]:
        if s not in contact_ids or t not in contact_ids:
            raise InvalidInput(
                f"evidence names contact {s if s not in contact_ids else t} "
                "that is not in this workspace"
            )
    arcs = sorted(set(replies) | set(mentions) | follows | set(propagations))
    nodes = sorted(contact_ids)
    index = {c: i for i, c in enumerate(nodes)}
    n = len(nodes)
    activations = collections.Counter(written)
    activations.update(evidence.activations)
    src = np.array([index[s] for s, _ in arcs], dtype=np.int64)
    dst = np.array([index[t] for _, t in arcs], dtype=np.int64)
    trials = np.array([activations.get(s, 0) for s, _ in arcs], dtype=np.int64)
    successes = np.array(
        [min(replies[a] + propagations[a], activations.get(a[0], 0)) for a in arcs],
        dtype=np.int64,
    )
    probability = estimate_probabilities(max(n, 1), src, dst, trials, successes)
    session.execute(delete(InfluenceEdge).where(InfluenceEdge.workspace_id == workspace_id))
    session.execute(delete(InfluenceScore).where(InfluenceScore.workspace_id == workspace_id))
    if arcs:
        session.execute(
            insert(InfluenceEdge),
            [
                {
                    "workspace_id": workspace_id,
                    "source_id": a[0],
                    "target_id": a[1],
                    "replies": replies[a],
                    "mentions": mentions[a],
                    "reposts": propagations[a],
                    "follows": int(a in follows),
                    "trials": int(trials[i]),
                    "successes": int(successes[i]),
                    "probability": float(probability[i]),
                    "estimate": "observed" if trials[i] > 0 else "weighted_cascade",
                }
                for i, a in enumerate(arcs)
            ],
        )
    if n:
        _store_ranking(session, workspace_id, nodes, src, dst, probability, written, evidence, now)
    session.flush()
    return GraphSummary(
        nodes=n,
        arcs=len(arcs),
        observed_arcs=int((trials > 0).sum()),
        replies=sum(replies.values()),
        mentions=sum(mentions.values()),
        follows=len(follows),
        propagations=sum(propagations.values()),
    )


def _store_ranking(
    session: Session,
    workspace_id: int,
    nodes: list[int],
    src: np.ndarray[Any, Any],
    dst: np.ndarray[Any, Any],
    probability: np.ndarray[Any, Any],
    written: Mapping[int, int],
    evidence: Evidence,
    now: dt.datetime,
) -> None:
    n = len(nodes)
    stored_followers: dict[int, int] = {}
    for contact_id, count in session.execute(
        select(ContactIdentity.contact_id, func.max(ContactIdentity.followers))
        .where(ContactIdentity.workspace_id == workspace_id)
        .group_by(ContactIdentity.contact_id)
    ):
        stored_followers[int(contact_id)] = int(count or 0)
    stored_followers.update(evidence.followers)
    interests: dict[int, dict[str, float]] = collections.defaultdict(dict)
    for contact_id, interest, score in session.execute(
        select(ContactInterest.contact_id, ContactInterest.interest, ContactInterest.score).where(
            ContactInterest.workspace_id == workspace_id
        )
    ):
        interests[int(contact_id)][interest] = float(score)
    # Topic relevance: how much a contact cares about what the audience cares about most.
    weight: collections.Counter[str] = collections.Counter()
    for found in interests.values():
        weight.update(found)
    top = [t for t, _ in weight.most_common(3)]
    followers = np.array([stored_followers.get(c, 0) for c in nodes], dtype=np.float64)
    engagement = np.array(
        [written.get(c, 0) + evidence.engagement.get(c, 0) for c in nodes], dtype=np.float64
    )
    topic = np.array(
        [sum(interests[c].get(t, 0.0) for t in top) / max(len(top), 1) for c in nodes],
        dtype=np.float64,
    )
    ranking = rank_influencers(
        n, src, dst, probability, followers=followers, engagement=engagement, topic=topic
    )
    out_degree = np.bincount(src, minlength=n)
    in_degree = np.bincount(dst, minlength=n)
    rank_of = np.empty(n, dtype=np.int64)
    rank_of[ranking.order] = np.arange(1, n + 1)
    session.execute(
        insert(InfluenceScore),
        [
            {
                "contact_id": c,
                "workspace_id": workspace_id,
                "rank": int(rank_of[i]),
                "score": round(float(ranking.score[i]), 6),
                "followers": int(followers[i]),
                "engagement": int(engagement[i]),
                "pagerank": float(ranking.pagerank[i]),
                "core": int(ranking.core[i]),
                "topic_relevance": round(float(topic[i]), 6),
                "out_degree": int(out_degree[i]),
                "in_degree": int(in_degree[i]),
                "topics": {k: round(v, 3) for k, v in sorted(interests[c].items())},
                "computed_at": now,
            }
            for i, c in enumerate(nodes)
        ],
    )


# --- reading --------------------------------------------------------------------------------

SORTS = ("rank", "followers", "engagement", "pagerank", "core", "topic")


@dataclasses.dataclass(frozen=True)
class RankedContact:
    contact_id: int
    display_name: str
    handle: str
    rank: int
    score: float
    followers: int
    engagement: int
    pagerank: float
    core: int
    topic_relevance: float
    out_degree: int
    in_degree: int
    topics: dict[str, float]


def _names(session: Session, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    out: dict[int, tuple[str, str]] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        for cid, name in session.execute(
            select(Contact.id, Contact.display_name).where(Contact.id.in_(chunk))
        ):
            out[int(cid)] = (name, "")
        for cid, handle in session.execute(
            select(ContactIdentity.contact_id, ContactIdentity.handle).where(
                ContactIdentity.contact_id.in_(chunk)
            )
        ):
            out[int(cid)] = (out.get(int(cid), ("", ""))[0], handle)
    return out


def _ranked(session: Session, scores: Sequence[InfluenceScore]) -> list[RankedContact]:
    names = _names(session, [s.contact_id for s in scores])
    return [
        RankedContact(
            contact_id=s.contact_id,
            display_name=names.get(s.contact_id, ("", ""))[0],
            handle=names.get(s.contact_id, ("", ""))[1],
            rank=s.rank,
            score=s.score,
            followers=s.followers,
            engagement=s.engagement,
            pagerank=s.pagerank,
            core=s.core,
            topic_relevance=s.topic_relevance,
            out_degree=s.out_degree,
            in_degree=s.in_degree,
            topics=dict(s.topics or {}),
        )
        for s in scores
    ]


def rankings(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    sort: str = "rank",
    topic: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[RankedContact]]:
    """``(total, page)`` of the influencer ranking, best first by ``sort``; with ``topic``
    only contacts interested in it, most interested first among equals."""
    authorize(session, principal, workspace_id, Permission.audience_read)
    if sort not in SORTS:
        raise InvalidInput(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}", field="sort")
    if not 1 <= limit <= 500 or offset < 0:
        raise InvalidInput("limit must lie in 1 … 500 and offset be positive", field="limit")
    query = select(InfluenceScore).where(InfluenceScore.workspace_id == workspace_id)
    if topic:
        interested = select(ContactInterest.contact_id).where(
            ContactInterest.workspace_id == workspace_id,
            ContactInterest.interest == topic.strip().lower(),
        )
        query = query.where(InfluenceScore.contact_id.in_(interested))
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    column: Any = {
        "rank": InfluenceScore.rank.asc(),
        "followers": InfluenceScore.followers.desc(),
        "engagement": InfluenceScore.engagement.desc(),
        "pagerank": InfluenceScore.pagerank.desc(),
        "core": InfluenceScore.core.desc(),
        "topic": InfluenceScore.topic_relevance.desc(),
    }[sort]
    page = session.scalars(
        query.order_by(column, InfluenceScore.rank).limit(limit).offset(offset)
    ).all()
    return total, _ranked(session, page)


def graph_summary(session: Session, principal: Principal, workspace_id: int) -> dict[str, Any]:
    authorize(session, principal, workspace_id, Permission.audience_read)
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(InfluenceEdge.follows), 0),
            func.coalesce(func.sum(InfluenceEdge.replies), 0),
            func.coalesce(func.sum(InfluenceEdge.mentions), 0),
            func.coalesce(func.sum(InfluenceEdge.reposts), 0),
        ).where(InfluenceEdge.workspace_id == workspace_id)
    ).one()
    observed = session.scalar(
        select(func.count()).where(
            InfluenceEdge.workspace_id == workspace_id, InfluenceEdge.estimate == "observed"
        )
    )
    nodes = session.scalar(select(func.count()).where(InfluenceScore.workspace_id == workspace_id))
    computed = session.scalar(
        select(func.max(InfluenceScore.computed_at)).where(
            InfluenceScore.workspace_id == workspace_id
        )
    )
    return {
        "nodes": int(nodes or 0),
        "arcs": int(row[0]),
        "follows": int(row[1]),
        "replies": int(row[2]),
        "mentions": int(row[3]),
        "reposts": int(row[4]),
        "observed_arcs": int(observed or 0),
        "computed_at": computed,
    }


# --- advocates ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Advocate:
    contact: RankedContact
    order: int  # 1 = chosen first
    alone: float  # expected spread of this advocate alone
    marginal: float  # what adding it to the ones chosen before adds
    cumulative: float  # expected spread of the advocates up to this one


@dataclasses.dataclass(frozen=True)
class AdvocatePlan:
    model: str
    k: int
    nodes: int
    arcs: int
    spread: float
    low: float
    high: float
    runs: int
    rr_sets: int
    excluded: int
    advocates: list[Advocate]


def _graph(
    session: Session, workspace_id: int, model: str
) -> tuple[InfluenceGraph, list[int], dict[int, int]]:
    nodes = [
        int(i)
        for i in session.scalars(
            select(InfluenceScore.contact_id)
            .where(InfluenceScore.workspace_id == workspace_id)
            .order_by(InfluenceScore.contact_id)
        )
    ]
    if not nodes:
        raise NotFound("no interaction graph yet: build it first", code="no_graph")
    index = {c: i for i, c in enumerate(nodes)}
    rows = session.execute(
        select(InfluenceEdge.source_id, InfluenceEdge.target_id, InfluenceEdge.probability).where(
            InfluenceEdge.workspace_id == workspace_id
        )
    ).all()
    src = np.array([index[r[0]] for r in rows], dtype=np.int64)
    dst = np.array([index[r[1]] for r in rows], dtype=np.int64)
    p = np.array([r[2] for r in rows], dtype=np.float64)
    if model == "lt" and p.size:
        totals = np.bincount(dst, weights=p, minlength=len(nodes))
        p = p * np.where(totals > 1.0, 1.0 / np.maximum(totals, 1e-12), 1.0)[dst]
    return InfluenceGraph.from_arcs(len(nodes), src, dst, np.clip(p, 0.0, 1.0)), nodes, index


def select_advocates(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    k: int,
    model: Literal["ic", "lt"] | str = "ic",
    exclude: Iterable[int] = (),
    exclude_segment: str | None = None,
    runs: int = 2_000,
    epsilon: float = 0.2,
    seed: int = 0,
) -> AdvocatePlan:
    """Choose ``k`` advocates maximising the expected word-of-mouth spread over the
    interaction graph (IMM), never one of ``exclude`` (contact ids) nor a member of the
    ``exclude_segment`` expression; forecast their spread by ``runs`` Monte Carlo cascades
    with a 95 % interval, and explain each advocate (its spread alone and what it adds)."""
    authorize(session, principal, workspace_id, Permission.audience_read)
    if model not in ("ic", "lt"):
        raise InvalidInput(f"unknown model {model!r}: use ic or lt", field="model")
    if not 1 <= k <= MAX_K:
        raise InvalidInput(f"the budget k must lie in 1 … {MAX_K}", field="k")
    if not 100 <= runs <= MAX_RUNS:
        raise InvalidInput(f"runs must lie in 100 … {MAX_RUNS}", field="runs")
    graph, nodes, index = _graph(session, workspace_id, model)
    excluded_ids = set(exclude)
    if exclude_segment and exclude_segment.strip():
        from dialogo.audience.service import segment_members

        excluded_ids.update(segment_members(session, principal, workspace_id, exclude_segment))
    unknown = sorted(i for i in set(exclude) if i not in index)
    if unknown:
        raise InvalidInput(
            f"contact(s) not in the interaction graph: {', '.join(map(str, unknown[:10]))}",
            field="exclude",
        )
    excluded = [index[i] for i in excluded_ids if i in index]
    chosen = imm(graph, k, model=model, epsilon=epsilon, exclude=excluded, seed=seed)
    seeds = [int(s) for s in chosen.seeds]
    total = monte_carlo_spread(graph, seeds, model=model, runs=runs, seed=seed + 1)
    explain_runs = max(100, min(runs, 1000))
    prefix = 0.0
    scores = {
        s.contact_id: s
        for s in session.scalars(
            select(InfluenceScore).where(InfluenceScore.contact_id.in_([nodes[s] for s in seeds]))
        )
    }
    ranked = {r.contact_id: r for r in _ranked(session, list(scores.values()))}
    advocates: list[Advocate] = []
    for order, node in enumerate(seeds, start=1):
        alone = monte_carlo_spread(graph, [node], model=model, runs=explain_runs, seed=seed + 2)
        upto = (
            total.mean
            if order == len(seeds)
            else monte_carlo_spread(
                graph,
                seeds[:order],
                model=model,
                runs=explain_runs,
                seed=seed + 3,
            ).mean
        )
        advocates.append(
            Advocate(
                contact=ranked[nodes[node]],
                order=order,
                alone=round(alone.mean, 2),
                marginal=round(max(upto - prefix, 0.0), 2),
                cumulative=round(upto, 2),
            )
        )
        prefix = upto
    return AdvocatePlan(
        model=model,
        k=k,
        nodes=graph.n,
        arcs=graph.m,
        spread=round(total.mean, 2),
        low=round(max(total.low, float(len(seeds))), 2),
        high=round(total.high, 2),
        runs=total.runs,
        rr_sets=chosen.rr_sets,
        excluded=len(excluded),
        advocates=advocates,
    )
