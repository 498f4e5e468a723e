"""Bring audience profiles, the interaction graph and the influencer ranking up to date for a
workspace, from everything its channels offer (the demo step, the "Rebuild" button and
``dialogo influence build`` run this same code).

For sandbox channels: the brand's followers and everyone who engaged with its posts become
contacts with the simulated demographics and interests (:mod:`dialogo.audience.sandbox`), and
the simulation's follower graph and observed reposts join the inbox's replies and mentions as
evidence. Other networks give only what the inbox stored (replies, mentions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.audit import record
from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.audience.sandbox import ensure_contacts, sync_profiles
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.channels.service import open_provider
from dialogo.core.clock import utcnow
from dialogo.core.db import transaction
from dialogo.influence.sandbox import (
    audience_of,
    brand_outcomes,
    engagement_of,
    observe,
    sandbox_evidence,
)
from dialogo.influence.service import Evidence, GraphSummary, build_graph
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.sandbox.provider import SandboxProvider

if TYPE_CHECKING:
    from dialogo.core.context import AppContext


def refresh_workspace(
    session: Session, workspace_id: int, *, registry: ProviderRegistry, cipher: CredentialCipher
) -> GraphSummary:
    """Internal (the boundary authorises): profiles, graph and ranking from the channels."""
    now = utcnow()
    evidence = Evidence()
    channels = session.scalars(
        select(Channel).where(Channel.workspace_id == workspace_id, Channel.network == "sandbox")
    ).all()
    for channel in channels:
        with open_provider(session, channel, registry=registry, cipher=cipher) as provider:
            if not isinstance(provider, SandboxProvider):  # pragma: no cover - registry misuse
                continue
            world, brand, end = provider.world, provider.brand, provider.now()
        observed = observe(world, brand_outcomes(world, brand, end))
        people = audience_of(world, brand, end, observed)
        contacts = ensure_contacts(session, workspace_id, world, people, now)
        sync_profiles(
            session,
            workspace_id,
            world,
            contacts,
            engagement=engagement_of(observed, people),
            now=now,
        )
        found = sandbox_evidence(world, observed, contacts)
        evidence.follows += found.follows
        evidence.propagations += found.propagations
        evidence.activations.update(found.activations)
        evidence.followers.update(found.followers)
        evidence.engagement.update(found.engagement)
    session.flush()
    return build_graph(session, workspace_id, evidence, now=now)


def rebuild(
    session: Session,
    principal: Principal,
    workspace_id: int,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
) -> GraphSummary:
    """:func:`refresh_workspace` for a person or token with ``audience.manage``. Audited."""
    authorize(session, principal, workspace_id, Permission.audience_manage)
    summary = refresh_workspace(session, workspace_id, registry=registry, cipher=cipher)
    record(
        session,
        "influence.rebuilt",
        entity_type="influence",
        workspace_id=workspace_id,
        details={"nodes": summary.nodes, "arcs": summary.arcs},
    )
    session.flush()
    return summary


def demo_step(ctx: AppContext, workspace_id: int) -> None:
    """The demo's audience and word-of-mouth step (:data:`dialogo.demo.steps.DEMO_STEPS`)."""
    cipher = CredentialCipher.from_settings(ctx.settings)
    with transaction(ctx.session_factory) as session:
        refresh_workspace(session, workspace_id, registry=ctx.providers, cipher=cipher)
