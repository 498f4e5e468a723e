"""Token refresh ahead of expiry, for every channel whose network issues expiring tokens."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from dialogo.channels import service
from dialogo.channels.crypto import CredentialCipher
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
    for channel in service.channels_to_refresh(ctx.session, margin=margin, now=ctx.clock.now()):
        if channel.network not in registry:
            continue
        try:
            with ctx.session.begin_nested():
                ok = service.refresh_channel(ctx.session, channel, registry=registry, cipher=cipher)
        except ProviderError as exc:  # transient: the next run tries again, before expiry
            log.warning("refreshing channel %s failed: %s", channel.id, exc)
            failed += 1
            continue
        refreshed += int(ok)
        flagged += int(not ok)
    return {"refreshed": refreshed, "flagged": flagged, "failed": failed}
