"""Server-rendered pages (Jinja2 + htmx): a thin adapter over the domain services.

Every page needs a signed-in user (else a redirect to ``/login?next=…``); every POST carries
the session's CSRF token; errors on these paths are HTML pages (``dialogo.web.errors``).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from dialogo.core.context import AppContext
from dialogo.web import errors, templating
from dialogo.web.pages import (
    account,
    auth,
    channels,
    media_public,
    members,
    notifications,
    publishing,
    publishing_automation,
    publishing_media,
    system,
    webhooks_intake,
    workspace,
)
from dialogo.web.pages import analytics as analytics_page
from dialogo.web.pages import audience as audience_page
from dialogo.web.pages import calendar as publishing_calendar
from dialogo.web.pages import inbox as inbox_page
from dialogo.web.pages import influence as influence_page
from dialogo.web.pages import links as links_page
from dialogo.web.pages import listening as listening_page
from dialogo.web.pages import whatif as whatif_page

router = APIRouter(include_in_schema=False)
router.include_router(auth.router)
router.include_router(workspace.router)
router.include_router(members.router)
router.include_router(channels.router)
router.include_router(notifications.router)
router.include_router(account.router)
router.include_router(system.router)
router.include_router(publishing.router)
router.include_router(inbox_page.router)
router.include_router(publishing_calendar.router)
router.include_router(publishing_media.router)
router.include_router(publishing_automation.router)
router.include_router(whatif_page.router)
router.include_router(analytics_page.router)
router.include_router(links_page.router)
router.include_router(audience_page.router)
router.include_router(influence_page.router)
router.include_router(listening_page.router)
router.include_router(media_public.router)  # public: signed links, no session
router.include_router(webhooks_intake.router)  # public: networks' signed webhooks, no session


def install(app: FastAPI) -> None:
    """Hook for ``create_app``: HTML error pages and the sign-in redirect for web paths; the
    catalogues are compiled now, so a broken translation fails at start, not on a page."""
    errors.install(app)
    ctx: AppContext = app.state.ctx
    for language in ctx.settings.languages:
        templating.environment(language)
