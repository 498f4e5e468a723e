"""Server-rendered pages (Jinja2 + htmx): a thin adapter over the domain services.

Every page needs a signed-in user (else a redirect to ``/login?next=…``); every POST carries
the session's CSRF token; errors on these paths are HTML pages (``dialogo.web.errors``).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from dialogo.core.context import AppContext
from dialogo.web import errors, templating
from dialogo.web.pages import account, auth, channels, members, notifications, system, workspace

router = APIRouter(include_in_schema=False)
router.include_router(auth.router)
router.include_router(workspace.router)
router.include_router(members.router)
router.include_router(channels.router)
router.include_router(notifications.router)
router.include_router(account.router)
router.include_router(system.router)


def install(app: FastAPI) -> None:
    """Hook for ``create_app``: HTML error pages and the sign-in redirect for web paths; the
    catalogues are compiled now, so a broken translation fails at start, not on a page."""
    errors.install(app)
    ctx: AppContext = app.state.ctx
    for language in ctx.settings.languages:
        templating.environment(language)
