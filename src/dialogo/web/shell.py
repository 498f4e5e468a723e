"""The page shell: who is looking (``Viewer``), in which language, and the navigation."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.audit import set_actor
from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Permission, Role, role_allows
from dialogo.api.deps import Db, WebIdentity, check_csrf, web_identity
from dialogo.core import i18n
from dialogo.core.context import AppContext
from dialogo.core.i18n import N_
from dialogo.notifications import service as notifications
from dialogo.web import cookies, messages, templating

CHANNEL_ATTENTION = "channel_attention"  # the notification kind of the channels domain


class LoginRequired(Exception):
    """Raised by a page that needs a signed-in user; answered with a redirect to /login."""


@dataclasses.dataclass(frozen=True)
class NavSpec:
    key: str
    label: str
    path: str | None  # None: the domain is not built yet ("coming soon")
    permission: Permission


@dataclasses.dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    href: str | None
    current: bool
    # How many problems need a person here (``None``: this item never shows a count).
    badge: int | None = None

    @property
    def soon(self) -> bool:
        return self.href is None


# Every domain of the architecture guide; those without a page are shown disabled.
WORKSPACE_NAV: tuple[NavSpec, ...] = (
    NavSpec("home", N_("Overview"), "", Permission.workspace_read),
    NavSpec("publishing", N_("Publishing"), "/publishing", Permission.posts_read),
    NavSpec("whatif", N_("What-if"), "/whatif", Permission.posts_read),
    NavSpec("inbox", N_("Inbox"), "/inbox", Permission.inbox_read),
    NavSpec("listening", N_("Listening"), "/listening", Permission.listening_read),
    NavSpec("audience", N_("Audience"), "/audience", Permission.audience_read),
    NavSpec("influence", N_("Word of mouth"), "/influence", Permission.audience_read),
    NavSpec("analytics", N_("Measurement"), "/analytics", Permission.analytics_read),
    NavSpec("channels", N_("Channels"), "/channels", Permission.channels_read),
)
MANAGE_NAV: tuple[NavSpec, ...] = (
    NavSpec("members", N_("Members"), "/members", Permission.members_read),
    NavSpec("audit", N_("Activity log"), "/audit", Permission.audit_read),
    NavSpec("settings", N_("Settings"), "/settings", Permission.workspace_update),
)
ACCOUNT_NAV: tuple[tuple[str, str, str], ...] = (
    ("profile", N_("Profile"), "/profile"),
    ("tokens", N_("API tokens"), "/tokens"),
    ("system", N_("System health"), "/system"),
)


def workspace_nav(
    specs: tuple[NavSpec, ...],
    workspace_id: int,
    role: Role,
    active: str,
    badges: dict[str, int] | None = None,
) -> list[NavItem]:
    """The items this role may use; working ones link, the rest are marked coming soon."""
    return [
        NavItem(
            key=spec.key,
            label=spec.label,
            href=None if spec.path is None else f"/w/{workspace_id}{spec.path}",
            current=spec.key == active and spec.path is not None,
            badge=(badges or {}).get(spec.key) if spec.path is not None else None,
        )
        for spec in specs
        if role_allows(role, spec.permission)
    ]


def account_nav(active: str) -> list[NavItem]:
    return [NavItem(key, label, path, key == active) for key, label, path in ACCOUNT_NAV]


def ui_language(ctx: AppContext, request: Request, user: User | None = None) -> str:
    """The signed-in user's language, else the browser's (Accept-Language), else the default."""
    languages = tuple(ctx.settings.languages)
    if user is not None and user.language in languages:
        return user.language
    return i18n.negotiate(
        request.headers.get("accept-language"), languages, ctx.settings.default_language
    )


class Viewer:
    """The signed-in person behind a request, and what every page of theirs needs."""

    def __init__(self, request: Request, session: Session, identity: WebIdentity) -> None:
        self.request = request
        self.session = session
        self.identity = identity
        self.ctx: AppContext = request.app.state.ctx
        self.user = identity.user
        self.principal = accounts.Principal.for_user(identity.user)
        self.language = ui_language(self.ctx, request, identity.user)
        self.tr = templating.tr(self.language)
        self._workspaces: list[tuple[Workspace, Role]] | None = None
        request.state.ui_language = self.language
        set_actor(session, self.principal.actor)

    @property
    def secret(self) -> str:
        return self.ctx.settings.secret_key.get_secret_value()

    @property
    def secure(self) -> bool:
        return self.ctx.settings.cookie_secure

    @property
    def csrf_token(self) -> str:
        return self.identity.web_session.csrf_token

    def gettext(self, message: str) -> str:
        return self.tr.gettext(message)

    def network_name(self, network: str) -> str:
        """A network's name as people read it ("LinkedIn", "WhatsApp"): its provider's display
        name in this app's registry; the network's code when no provider for it is installed."""
        registry = self.ctx.providers
        if network not in registry:
            return network
        return registry.get(network).capabilities.display_name or network

    # -- workspaces ----------------------------------------------------------------------------

    def workspaces(self) -> list[tuple[Workspace, Role]]:
        if self._workspaces is None:
            self._workspaces = accounts.list_workspaces(self.session, self.principal)
        return self._workspaces

    def refresh(self) -> None:
        """Forget what was read (after a write that changes names, roles or memberships)."""
        self._workspaces = None

    def workspace(
        self, workspace_id: int, permission: Permission = Permission.workspace_read
    ) -> tuple[Workspace, Role]:
        """The workspace and this user's role in it: NotFound for non-members (a 404 page),
        PermissionDenied when the role does not allow ``permission`` (a 403 page)."""
        membership = accounts.authorize(self.session, self.principal, workspace_id, permission)
        workspace = accounts.get_workspace(self.session, self.principal, workspace_id)
        return workspace, Role(membership.role)

    def current_workspace(self) -> tuple[Workspace | None, Role | None]:
        """For pages outside a workspace: the one visited last, else the first."""
        listed = self.workspaces()
        remembered = cookies.remembered_workspace(self.request)
        for workspace, role in listed:
            if workspace.id == remembered:
                return workspace, role
        return listed[0] if listed else (None, None)

    def language_options(self) -> list[tuple[str, str]]:
        """(code, the language's own name) for every supported language."""
        return [(code, i18n.autonym(code)) for code in self.ctx.settings.languages]

    def can(self, role: Role | None, permission: Permission) -> bool:
        return role is not None and role_allows(role, permission)

    def channels_attention(self, workspace_id: int, role: Role) -> int | None:
        """Open "a channel needs attention" notifications (``None`` if the role cannot see
        channels): the count shown on the Channels item of the navigation."""
        if not self.can(role, Permission.channels_read):
            return None
        open_ = notifications.list_notifications(
            self.session, self.principal, workspace_id, limit=200
        )
        return sum(1 for n in open_ if n.kind == CHANNEL_ATTENTION)

    # -- rendering -----------------------------------------------------------------------------

    def context(
        self, *, active: str, workspace: Workspace | None = None, role: Role | None = None
    ) -> dict[str, Any]:
        in_workspace = workspace is not None
        if workspace is None:
            workspace, role = self.current_workspace()
        timezone = workspace.timezone if workspace is not None else "UTC"
        nav: dict[str, list[NavItem]] = {"workspace": [], "manage": [], "account": []}
        attention: int | None = None
        if workspace is not None and role is not None:
            here = active if in_workspace else ""
            attention = self.channels_attention(workspace.id, role)
            badges = {"channels": attention} if attention is not None else {}
            nav["workspace"] = workspace_nav(WORKSPACE_NAV, workspace.id, role, here, badges)
            nav["manage"] = workspace_nav(MANAGE_NAV, workspace.id, role, here)
        nav["account"] = account_nav(active)
        return {
            "user": self.user,
            "csrf_token": self.csrf_token,
            "workspaces": self.workspaces(),
            "workspace": workspace,
            "role": role,
            "nav": nav,
            "attention": attention,
            "htmx": templating.is_htmx(self.request),
            "active": active,
            "here": self.here(),
            "fmt": i18n.Formatter(self.language, timezone),
            "labels": messages,
            "tr": self.tr,
        }

    def here(self) -> str:
        url = self.request.url
        return cookies.safe_next(url.path + (f"?{url.query}" if url.query else ""))

    def render(
        self,
        template: str,
        *,
        active: str,
        workspace: Workspace | None = None,
        role: Role | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> HTMLResponse:
        context = self.context(active=active, workspace=workspace, role=role)
        context.update(extra)
        return templating.render(
            self.request,
            template,
            context,
            language=self.language,
            secret=self.secret,
            status=status,
            headers=headers,
        )

    def flash(self, response: Response, level: str, text: str) -> None:
        cookies.flash(response, self.secret, level, text, secure=self.secure)


def viewer(request: Request, session: Db) -> Viewer:
    """A page for signed-in users (any method)."""
    identity = web_identity(request, session)
    if identity is None:
        raise LoginRequired()
    return Viewer(request, session, identity)


async def form_viewer(request: Request, session: Db) -> Viewer:
    """A form submission: signed in, and carrying the session's CSRF token."""
    identity = web_identity(request, session)
    if identity is None:
        raise LoginRequired()
    current = Viewer(request, session, identity)
    await check_csrf(request, identity)
    return current


CurrentViewer = Annotated[Viewer, Depends(viewer)]
FormViewer = Annotated[Viewer, Depends(form_viewer)]
