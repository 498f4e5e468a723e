"""Token refresh ahead of expiry, for every channel whose network issues expiring tokens."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from dialogo.channels import service
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.core.clock import ensure_aware
from dialogo.jobs.registry import JobContext, task
from dialogo.providers.errors import ProviderError
from dialogo.providers.registry import ProviderRegistry

log = logging.getLogger("dialogo.channels")


@task("channels.refresh_tokens", every=dt.timedelta(minutes=5))
def refresh_tokens(ctx: JobContext, _payload: dict[str, Any]) -> dict[str, Any]:
    settings = ctx.settings
    registry = ProviderRegistry.from_entry_points(
        allow=settings.providers_allow or None,
        deny=settings.providers_deny,
        outbound=settings.outbound_policy,
    )
    cipher = CredentialCipher.from_settings(settings)
    margin = dt.timedelta(minutes=settings.channel_refresh_margin_minutes)
    refreshed = flagged = failed = 0
    due = service.channels_to_refresh(ctx.session, margin=margin, now=ctx.clock.now())
    # Each channel's outcome is committed before the next network call: a renewal is stored
    # in a transaction of its own (service.save_renewal), which on SQLite needs the job's
    # connection out of any transaction (a flag written for the previous channel would hold
    # the database's write lock, and the renewal would have to wait for it), and no lock or
    # read snapshot is held while waiting for the network.
    ctx.session.commit()
    for channel in due:
        if channel.network not in registry:
            continue
        # The credentials as stored now, not as listed: another worker may have renewed them
        # meanwhile, and sending a rotated-away refresh token is refused (some networks then
        # revoke the whole token family).
        current = ctx.session.get(Channel, channel.id, populate_existing=True)
        expires = current.token_expires_at if current is not None else None
        if (
            current is None
            or current.status != ChannelStatus.ok.value
            or (expires is None or ensure_aware(expires) > ctx.clock.now() + margin)
        ):
            continue
        try:
            ok = service.refresh_channel(ctx.session, channel, registry=registry, cipher=cipher)
        except ProviderError as exc:  # transient: the next run tries again, before expiry
            ctx.session.rollback()
            log.warning("refreshing channel %s failed: %s", channel.id, exc)
            failed += 1
            continue
        ctx.session.commit()
        refreshed += int(ok)
        flagged += int(not ok)
    return {"refreshed": refreshed, "flagged": flagged, "failed": failed}
