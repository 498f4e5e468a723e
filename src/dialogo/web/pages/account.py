"""The signed-in user's own pages: profile, language, password, API tokens."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from dialogo.accounts import service as accounts
from dialogo.accounts.models import ApiToken
from dialogo.accounts.permissions import Scope
from dialogo.accounts.schemas import LANGUAGES, PasswordChange, TokenCreate, UserUpdate
from dialogo.api.deps import SESSION_COOKIE, client_ip, session_ttl
from dialogo.core.clock import ensure_aware
from dialogo.core.errors import DomainError
from dialogo.core.i18n import N_
from dialogo.web import cookies, messages, templating
from dialogo.web.cookies import Flash
from dialogo.web.forms import read_form, text, texts
from dialogo.web.shell import CurrentViewer, FormViewer, Viewer

router = APIRouter()

PROFILE_FIELDS = {
    "name": N_("Enter a name of up to 200 characters."),
    "language": N_("Choose English or Italian."),
}
TOKEN_FIELDS = {
    "name": N_("Enter a name of up to 200 characters."),
    "scopes": N_("Choose at least one scope."),
    "workspace_id": N_("Choose one of your workspaces."),
    "expires_in_days": N_("Choose an expiry."),
}
EXPIRY_CHOICES = ("30", "90", "365", "never")


# --- language --------------------------------------------------------------------------------


@router.post("/language")
async def switch_language(viewer: FormViewer) -> Response:
    """The header's quick English/Italian switch; back to the page it was pressed on."""
    form = await read_form(viewer.request)
    language = text(form, "language")
    target = cookies.safe_next(text(form, "next"))
    if language in LANGUAGES and language != viewer.user.language:
        accounts.update_user(viewer.session, viewer.principal, UserUpdate(language=language))
    return RedirectResponse(target, status_code=303)


# --- profile ---------------------------------------------------------------------------------


def _profile_page(
    viewer: Viewer,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    password_errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return viewer.render(
        "profile.html",
        active="profile",
        values=values or {"name": viewer.user.name, "language": viewer.user.language},
        errors=errors or {},
        password_errors=password_errors or {},
        language_options=viewer.language_options(),
        status=status,
    )


@router.get("/profile")
def profile(viewer: CurrentViewer) -> Response:
    return _profile_page(viewer)


@router.post("/profile")
async def save_profile(viewer: FormViewer) -> Response:
    form = await read_form(viewer.request)
    values = {"name": text(form, "name"), "language": text(form, "language")}
    try:
        data = UserUpdate(**values)
    except ValidationError as exc:
        errors = messages.field_errors(viewer.tr, exc, PROFILE_FIELDS)
        return _profile_page(viewer, values=values, errors=errors, status=422)
    user = accounts.update_user(viewer.session, viewer.principal, data)
    response = RedirectResponse("/profile", status_code=303)
    # Confirm in the language just chosen.
    viewer.flash(response, "success", templating.tr(user.language).gettext("Profile saved."))
    return response


@router.post("/profile/password")
async def change_password(viewer: FormViewer) -> Response:
    form = await read_form(viewer.request)
    current = text(form, "current_password", strip=False)
    new = text(form, "new_password", strip=False)
    confirm = text(form, "confirm_password", strip=False)
    errors: dict[str, str] = {}
    if not current:
        errors["current_password"] = viewer.gettext("Enter your current password.")
    if len(new) < 10 or len(new) > 1024:
        errors["new_password"] = viewer.gettext("The new password needs at least 10 characters.")
    elif new != confirm:
        errors["confirm_password"] = viewer.gettext("The two new passwords do not match.")
    if errors:
        return _profile_page(viewer, password_errors=errors, status=422)
    try:
        accounts.change_password(
            viewer.session,
            viewer.principal,
            PasswordChange(current_password=current, new_password=new),
        )
    except DomainError as exc:
        viewer.session.rollback()
        error = messages.domain_error(viewer.tr, exc)
        return _profile_page(viewer, password_errors={"current_password": error}, status=422)
    # Every session was closed (that is the point); open a new one for this browser.
    ttl = session_ttl(viewer.ctx)
    token, _web_session = accounts.create_web_session(
        viewer.session,
        viewer.user,
        ttl=ttl,
        ip=client_ip(viewer.request),
        user_agent=viewer.request.headers.get("user-agent"),
    )
    response = RedirectResponse("/profile", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=viewer.secure,
        path="/",
    )
    viewer.flash(
        response,
        "success",
        viewer.gettext("Password changed. Other devices have been signed out."),
    )
    return response


# --- API tokens ------------------------------------------------------------------------------


def token_state(token: ApiToken, now: dt.datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and ensure_aware(token.expires_at) <= now:
        return "expired"
    return "active"


TOKEN_STATES = {"active": N_("Active"), "revoked": N_("Revoked"), "expired": N_("Expired")}


def _tokens_page(
    viewer: Viewer,
    *,
    created: str | None = None,
    message: Flash | None = None,
    values: dict[str, object] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    now = viewer.ctx.clock.now()
    tokens = accounts.list_api_tokens(viewer.session, viewer.principal)
    names = {ws.id: ws.name for ws, _role in viewer.workspaces()}
    template = "_tokens.html" if templating.is_htmx(viewer.request) else "tokens.html"
    return viewer.render(
        template,
        active="tokens",
        tokens=[(t, token_state(t, now)) for t in reversed(tokens)],
        token_states=TOKEN_STATES,
        workspace_names=names,
        created=created,
        message=message,
        values=values or {"name": "", "scopes": ["read"], "workspace_id": "", "expires": "90"},
        errors=errors or {},
        scopes=[s.value for s in Scope],
        expiry_choices=EXPIRY_CHOICES,
        status=status,
    )


@router.get("/tokens")
def tokens_page(viewer: CurrentViewer) -> Response:
    return _tokens_page(viewer)


@router.post("/tokens")
async def create_token(viewer: FormViewer) -> Response:
    form = await read_form(viewer.request)
    values: dict[str, object] = {
        "name": text(form, "name"),
        "scopes": texts(form, "scopes"),
        "workspace_id": text(form, "workspace_id"),
        "expires": text(form, "expires"),
    }
    expires = str(values["expires"])
    try:
        data = TokenCreate.model_validate(
            {
                "name": values["name"],
                "scopes": values["scopes"],
                "workspace_id": values["workspace_id"] or None,
                "expires_in_days": None if expires == "never" else (expires or "invalid"),
            }
        )
    except ValidationError as exc:
        errors = messages.field_errors(viewer.tr, exc, TOKEN_FIELDS)
        return _tokens_page(viewer, values=values, errors=errors, status=422)
    try:
        token, row = accounts.create_api_token(viewer.session, viewer.principal, data)
    except DomainError as exc:
        viewer.session.rollback()
        error = messages.domain_error(viewer.tr, exc)
        return _tokens_page(
            viewer, values=values, errors={"workspace_id": error}, status=exc.status
        )
    return _tokens_page(
        viewer,
        created=token,
        message=Flash("success", viewer.gettext("Token %(name)s created.") % {"name": row.name}),
        status=201,
    )


@router.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: int, viewer: FormViewer) -> Response:
    try:
        row = accounts.revoke_api_token(viewer.session, viewer.principal, token_id)
    except DomainError as exc:
        viewer.session.rollback()
        message = Flash("error", messages.domain_error(viewer.tr, exc))
        return _tokens_page(viewer, message=message, status=exc.status)
    text_ = viewer.gettext("Token %(name)s revoked.") % {"name": row.name}
    if templating.is_htmx(viewer.request):
        return _tokens_page(viewer, message=Flash("success", text_))
    response = RedirectResponse("/tokens", status_code=303)
    viewer.flash(response, "success", text_)
    return response
