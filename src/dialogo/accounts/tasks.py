"""Periodic housekeeping for accounts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete

from dialogo.accounts.models import LoginAttempt, WebSession
from dialogo.jobs.registry import JobContext, task


@task("accounts.purge_expired", every=dt.timedelta(hours=1))
def purge_expired(ctx: JobContext, _payload: dict[str, Any]) -> dict[str, Any]:
    """Delete expired web sessions and sign-in attempts older than a day."""
    now = ctx.clock.now()
    sessions = ctx.session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    attempts = ctx.session.execute(
        delete(LoginAttempt).where(LoginAttempt.at <= now - dt.timedelta(days=1))
    )
    return {
        "sessions": sessions.rowcount,  # type: ignore[attr-defined]
        "attempts": attempts.rowcount,  # type: ignore[attr-defined]
    }
