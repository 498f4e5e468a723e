"""The demo step: brand and competitor queries for a workspace whose channels are sandbox
channels, one ingest from their search, and the reputation computed over what came in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.channels.service import open_provider
from dialogo.core.context import AppContext
from dialogo.core.db import transaction
from dialogo.listening import service
from dialogo.listening.models import ListeningQuery
from dialogo.listening.query import compile_query
from dialogo.listening.schemas import QueryCreate

HISTORY = dt.timedelta(days=90)


def brand_query(name: str, handle: str, hashtag: str) -> str:
    parts = [f'"{name}"', handle, f"@{handle}"]
    if hashtag:
        parts.append(f"#{hashtag}")
    return " OR ".join(parts)


def demo_step(ctx: AppContext, workspace_id: int) -> None:
    cipher = CredentialCipher.from_settings(ctx.settings)
    with transaction(ctx.session_factory) as session:
        channel = session.scalar(
            select(Channel)
            .where(Channel.workspace_id == workspace_id, Channel.network == "sandbox")
            .order_by(Channel.id)
        )
        if channel is None:
            return
        brands: list[Any] = []
        history_start: str | None = None
        with open_provider(session, channel, registry=ctx.providers, cipher=cipher) as provider:
            world = getattr(provider, "world", None)
            if world is not None:
                brands = list(world.config.brands)
                # Listen to the whole simulated history, not only its last day (a search
                # starts a day back): the demo's reputation charts cover the 90 days.
                now: dt.datetime = getattr(provider, "now")()  # noqa: B009 - sandbox only
                history_start = (now - HISTORY).isoformat()
        existing = set(
            session.scalars(
                select(ListeningQuery.name).where(ListeningQuery.workspace_id == workspace_id)
            )
        )
        for i, brand in enumerate(brands[:4]):
            if brand.name in existing:
                continue
            service.add_query(
                session,
                workspace_id,
                QueryCreate(
                    name=brand.name,
                    query=brand_query(brand.name, brand.handle, brand.hashtag),
                    kind="brand" if i == 0 else "competitor",
                ),
            )
        if history_start is not None:
            queries = session.scalars(
                select(ListeningQuery).where(ListeningQuery.workspace_id == workspace_id)
            ).all()
            terms = {t for q in queries for t in service.search_terms(compile_query(q.query))}
            for term in sorted(terms):
                cursor = service._cursor(session, channel.id, f"search:{term}")
                if cursor.cursor is None:
                    cursor.cursor = history_start
        service.ingest_channels(session, workspace_id, registry=ctx.providers, cipher=cipher)
        now = ctx.clock.now()
        service.compute_reputation(
            session, workspace_id, start=now - dt.timedelta(days=30), end=now, bucket="day"
        )
