"""The audience demo step: interests inferred from engagement, and a past campaign with a
random control group for the receptiveness ranking.

For every sandbox channel of the workspace: the topics of the brand's posts each contact
liked, reposted, commented or clicked (the sandbox's engagement events) join the topics of
their messages (:func:`dialogo.audience.interests.infer_interests`); and a campaign on the
brand's own category is simulated over the sandbox contacts with half of them held out
(:func:`dialogo.audience.receptiveness.simulate_sandbox_experiment`, skipped when it exists).
Runs after ``dialogo.influence.refresh:demo_step`` (which creates the sandbox contacts) and
the inbox step (which stores their messages). Deterministic; idempotent.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.audience.interests import InferenceResult, infer_interests
from dialogo.audience.receptiveness import simulate_sandbox_experiment
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.channels.service import open_provider
from dialogo.core.db import transaction
from dialogo.inbox.models import ContactIdentity
from dialogo.influence.sandbox import brand_outcomes
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.sandbox.provider import SandboxProvider

if TYPE_CHECKING:
    from dialogo.core.context import AppContext


def refresh_audience(
    session: Session, workspace_id: int, *, registry: ProviderRegistry, cipher: CredentialCipher
) -> InferenceResult:
    """Internal (the boundary authorises): see the module docstring."""
    engagement: dict[int, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    channels = session.scalars(
        select(Channel).where(Channel.workspace_id == workspace_id, Channel.network == "sandbox")
    ).all()
    for channel in channels:
        with open_provider(session, channel, registry=registry, cipher=cipher) as provider:
            if not isinstance(provider, SandboxProvider):  # pragma: no cover - registry misuse
                continue
            world, brand, end = provider.world, provider.brand, provider.now()
        contact_of = {
            int(remote[1:]): int(cid)
            for remote, cid in session.execute(
                select(ContactIdentity.remote_id, ContactIdentity.contact_id).where(
                    ContactIdentity.workspace_id == workspace_id,
                    ContactIdentity.network == "sandbox",
                )
            )
            if remote.startswith("u") and remote[1:].isdigit()
        }
        for outcome in brand_outcomes(world, brand, end):
            topic = outcome.post.topic
            for people in (
                outcome.like_person,
                outcome.repost_person,
                outcome.reply_person,
                outcome.click_person,
            ):
                for person in set(people.tolist()):
                    contact = contact_of.get(int(person))
                    if contact is not None:
                        engagement[contact][topic] += 1
        category = world.brands[world.brand_index(brand)].category
        simulate_sandbox_experiment(session, workspace_id, world, category)
    return infer_interests(session, workspace_id, engagement=engagement)


def demo_step(ctx: AppContext, workspace_id: int) -> None:
    """The demo's audience step (:data:`dialogo.demo.steps.DEMO_STEPS`)."""
    cipher = CredentialCipher.from_settings(ctx.settings)
    with transaction(ctx.session_factory) as session:
        refresh_audience(session, workspace_id, registry=ctx.providers, cipher=cipher)
