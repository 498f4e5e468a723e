"""The demo's inbox step: ingest everything the workspace's sandbox channels offer, through
the same polling code the ingest job runs."""

from __future__ import annotations

from sqlalchemy import select

from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.core.context import AppContext
from dialogo.core.db import transaction
from dialogo.inbox.ingest import IngestReport
from dialogo.inbox.poll import poll_channel

#: Polls per channel at most (each fetches up to ``poll.MAX_PAGES`` pages).
MAX_POLLS = 40


def ingest_workspace(
    ctx: AppContext, workspace_id: int, *, network: str = "sandbox"
) -> IngestReport:
    """Poll every working ``network`` channel of the workspace until two polls in a row bring
    nothing new; each poll is its own unit of work (as each ingest job is)."""
    total = IngestReport()
    cipher = CredentialCipher.from_settings(ctx.settings)
    with ctx.session_factory() as session:
        channel_ids = list(
            session.scalars(
                select(Channel.id)
                .where(
                    Channel.workspace_id == workspace_id,
                    Channel.network == network,
                    Channel.status == ChannelStatus.ok.value,
                )
                .order_by(Channel.id)
            )
        )
    for channel_id in channel_ids:
        quiet = 0
        for _ in range(MAX_POLLS):
            with transaction(ctx.session_factory) as session:
                channel = session.get(Channel, channel_id)
                assert channel is not None
                outcome = poll_channel(
                    session,
                    channel,
                    registry=ctx.providers,
                    cipher=cipher,
                    now=ctx.clock.now(),
                )
            total.add(outcome.report)
            if outcome.status != "ok":
                break
            quiet = quiet + 1 if outcome.report.received == 0 else 0
            if quiet >= 2:
                break
    return total


def demo_step(ctx: AppContext, workspace_id: int) -> None:
    ingest_workspace(ctx, workspace_id)
