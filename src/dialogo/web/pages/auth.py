"""Sign in and sign out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from dialogo.accounts import service as accounts
from dialogo.api.deps import SESSION_COOKIE, Ctx, Db, web_identity
from dialogo.api.routers.accounts import start_session
from dialogo.core.context import AppContext
from dialogo.core.errors import AuthenticationFailed, TooManyAttempts
from dialogo.web import cookies, messages, templating
from dialogo.web.forms import read_form, text
from dialogo.web.shell import FormViewer, ui_language

router = APIRouter()


def _login_page(
    request: Request,
    ctx: AppContext,
    language: str,
    *,
    email: str = "",
    next_url: str = "/",
    error: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    settings = ctx.settings
    secret = settings.secret_key.get_secret_value()
    nonce, signed = cookies.new_login_token(secret)
    response = templating.render(
        request,
        "login.html",
        {
            "csrf_token": "",
            "email": email,
            "next_url": next_url,
            "login_token": signed,
            "error": error,
            "errors": errors or {},
        },
        language=language,
        secret=secret,
        status=status,
        headers=headers,
    )
    cookies.set_login_cookie(response, nonce, secure=settings.cookie_secure)
    return response


@router.get("/login")
def login_form(request: Request, ctx: Ctx, session: Db, next: str | None = None) -> Response:
    next_url = cookies.safe_next(next)
    if web_identity(request, session) is not None:
        return RedirectResponse(next_url, status_code=303)
    language = ui_language(ctx, request)
    request.state.ui_language = language
    return _login_page(request, ctx, language, next_url=next_url)


@router.post("/login")
async def login_submit(request: Request, ctx: Ctx, session: Db) -> Response:
    form = await read_form(request)
    email = text(form, "email")
    password = text(form, "password", strip=False)
    next_url = cookies.safe_next(text(form, "next"))
    language = ui_language(ctx, request)
    request.state.ui_language = language
    tr = templating.tr(language)
    secret = ctx.settings.secret_key.get_secret_value()

    def again(
        status: int,
        *,
        error: str | None = None,
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        return _login_page(
            request,
            ctx,
            language,
            email=email,
            next_url=next_url,
            error=error,
            errors=errors,
            status=status,
            headers=headers,
        )

    if not cookies.same_origin(request, ctx.settings.base_url) or not cookies.login_token_valid(
        request, secret, text(form, "login_token")
    ):
        return again(403, error=tr.gettext("The sign-in form expired. Please sign in again."))
    errors: dict[str, str] = {}
    if not email:
        errors["email"] = tr.gettext("Enter your e-mail address.")
    if not password:
        errors["password"] = tr.gettext("Enter your password.")
    if errors:
        return again(422, errors=errors)
    response = RedirectResponse(next_url, status_code=303)
    try:
        start_session(ctx, session, request, response, email, password)
    except TooManyAttempts as exc:
        return again(
            429,
            error=messages.too_many_attempts(tr, exc.retry_after),
            headers={"Retry-After": str(exc.retry_after)},
        )
    except AuthenticationFailed:
        return again(401, error=tr.gettext("Wrong e-mail or password."))
    response.delete_cookie(cookies.LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(viewer: FormViewer) -> Response:
    accounts.end_web_session(viewer.session, viewer.identity.token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    # Said in the language of the page that shows it: the browser's, signed out.
    language = ui_language(viewer.ctx, viewer.request)
    viewer.flash(response, "success", templating.tr(language).gettext("You have signed out."))
    return response
