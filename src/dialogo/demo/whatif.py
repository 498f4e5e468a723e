"""What-if: rehearse a planned campaign on the workspace's sandbox world
(:func:`dialogo.simulation.whatif.forecast`) and get forecast intervals of reach, engagement,
clicks, orders and revenue. Nothing is stored and nothing is published."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.service import open_provider
from dialogo.core.errors import InvalidInput
from dialogo.demo.schemas import IntervalOut, WhatIfIn, WhatIfOut
from dialogo.demo.service import sandbox_channel
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.sandbox.provider import SandboxProvider
from dialogo.simulation import Campaign, PlannedPost, Targeting, World, forecast

#: How many well-followed people the page suggests as advocates.
SUGGESTIONS = 8


def sandbox_world(
    session: Session,
    workspace_id: int,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
) -> tuple[int, World]:
    """The workspace's sandbox channel and its world (``InvalidInput`` when there is none)."""
    channel = sandbox_channel(session, workspace_id)
    if channel is None:
        raise InvalidInput(
            "what-if runs on the sandbox network: connect a sandbox channel first",
            code="no_sandbox_channel",
        )
    with open_provider(session, channel, registry=registry, cipher=cipher) as provider:
        if not isinstance(provider, SandboxProvider):
            raise InvalidInput("the sandbox provider is not installed", code="no_sandbox_channel")
        return channel.id, provider.world


def suggested_advocates(world: World, count: int = SUGGESTIONS) -> list[str]:
    """Handles of the most-followed people interested in the brand's category."""
    from dialogo.simulation.taxonomy import TOPIC_INDEX

    followers = world.graph.out_degree()
    pool = world.topic_pool(TOPIC_INDEX[world.config.workspace_brand.category])
    best = pool[(-followers[pool]).argsort(kind="stable")[:count]]
    return [world.population.handle(int(p)) for p in best]


def _people(world: World, handles: list[str]) -> tuple[int, ...]:
    people = []
    unknown = []
    for handle in handles:
        try:
            people.append(world.person_by_handle(handle.strip()))
        except KeyError:
            unknown.append(handle)
    if unknown:
        raise InvalidInput(
            f"no one in the sandbox is called {', '.join('@' + h.lstrip('@') for h in unknown)}",
            code="unknown_advocate",
            handles=unknown,
        )
    return tuple(dict.fromkeys(people))


def run_whatif(
    session: Session,
    principal: Principal,
    workspace_id: int,
    data: WhatIfIn,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
) -> WhatIfOut:
    authorize(session, principal, workspace_id, Permission.posts_read)
    channel_id, world = sandbox_world(session, workspace_id, registry=registry, cipher=cipher)
    segments = None
    if data.segments:
        known = {s.key for s in world.config.segments}
        wrong = sorted(set(data.segments) - known)
        if wrong:
            raise InvalidInput(
                f"unknown segments {', '.join(wrong)}; use {', '.join(sorted(known))}",
                code="unknown_segment",
            )
        segments = tuple(data.segments)
    campaign = Campaign(
        posts=tuple(
            PlannedPost(
                at=p.at,
                topic=p.topic,
                media=p.media,
                link=p.link,
                language=p.language,
                paid_budget_eur=p.budget_eur,
            )
            for p in data.posts
        ),
        advocates=_people(world, data.advocates),
        budget_eur=data.budget_eur,
        targeting=Targeting(segments=segments) if segments else Targeting(),
        name=f"ws{workspace_id}",
    )
    result = forecast(world, campaign, runs=data.runs)

    def intervals(values: dict[str, object]) -> dict[str, IntervalOut]:
        return {k: IntervalOut.model_validate(v, from_attributes=True) for k, v in values.items()}

    return WhatIfOut(
        channel_id=channel_id,
        runs=result.runs,
        quantiles=list(result.quantiles),
        totals=intervals(dict(result.totals)),
        per_post=[intervals(dict(p)) for p in result.per_post],
        advocates=[world.population.handle(p) for p in campaign.advocates],
    )
