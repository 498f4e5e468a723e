"""HTML error pages for the web paths; the API keeps its problem-details JSON.

``install`` wraps the exception handlers already on the app (``dialogo.api.problems``): a
request under ``/api/``, ``/health`` or ``/metrics`` gets the original JSON answer, any other
path an HTML page in the user's language (or, for htmx, a message swapped into the page).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dialogo.core.context import AppContext
from dialogo.core.errors import AuthenticationFailed, DomainError
from dialogo.web import messages, templating
from dialogo.web.cookies import Flash, safe_next
from dialogo.web.shell import LoginRequired, ui_language

log = logging.getLogger("dialogo.web")
JSON_PREFIXES = ("/api/", "/health", "/metrics")
Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def wants_json(path: str) -> bool:
    return path == "/api" or path.startswith(JSON_PREFIXES)


def login_url(request: Request) -> str:
    if request.method == "GET":
        url = request.url
        target = safe_next(url.path + (f"?{url.query}" if url.query else ""))
    else:
        target = "/"
    return "/login" if target == "/" else f"/login?next={quote(target, safe='/')}"


def login_redirect(request: Request) -> Response:
    target = login_url(request)
    if templating.is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _login_required(request: Request, exc: Exception) -> Response:
    return login_redirect(request)


def _language(request: Request) -> str:
    chosen = getattr(request.state, "ui_language", None)
    if isinstance(chosen, str):
        return chosen
    ctx: AppContext = request.app.state.ctx
    return ui_language(ctx, request)


def _describe(request: Request, exc: Exception, language: str) -> tuple[int, str, str]:
    tr = templating.tr(language)
    if isinstance(exc, DomainError):
        status = exc.status
        detail = messages.domain_error(tr, exc)
    elif isinstance(exc, RequestValidationError):
        in_path = any(err.get("loc", ("",))[0] == "path" for err in exc.errors())
        status = 404 if in_path else 400
        detail = tr.gettext("The request is not valid.")
    elif isinstance(exc, StarletteHTTPException):
        status = exc.status_code
        detail = ""
    else:
        status = 500
        detail = tr.gettext(
            "The error was logged. Nothing you sent was saved by the failed request; "
            "please try again."
        )
    titles = {
        400: tr.gettext("The request is not valid"),
        403: tr.gettext("You cannot do this"),
        404: tr.gettext("Page not found"),
        405: tr.gettext("This address does not accept this request"),
        409: tr.gettext("Conflict"),
        422: tr.gettext("Some of the values are not valid"),
        429: tr.gettext("Too many attempts"),
        500: tr.gettext("Something went wrong on our side"),
    }
    if status == 404:
        detail = tr.gettext("The page does not exist, or it is not visible to you.")
    title = titles.get(status, tr.gettext("Error"))
    return status, title, detail


async def html_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, AuthenticationFailed):
        return login_redirect(request)
    language = _language(request)
    status, title, detail = _describe(request, exc, language)
    if status >= 500:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    ctx: AppContext = request.app.state.ctx
    secret = ctx.settings.secret_key.get_secret_value()
    headers = dict(getattr(exc, "headers", None) or {})
    if templating.is_htmx(request):
        # Keep the page; show the message in its flash area.
        headers.update({"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"})
        return templating.render(
            request,
            "_flash.html",
            {"flashes": [Flash("error", detail or title)]},
            language=language,
            secret=secret,
            status=status,
            headers=headers,
        )
    identity = getattr(request.state, "web_identity", None)
    return templating.render(
        request,
        "error.html",
        {
            "status": status,
            "title": title,
            "detail": detail,
            "signed_in": identity is not None,
            "csrf_token": "",
        },
        language=language,
        secret=secret,
        status=status,
        headers=headers,
    )


def _negotiating(api_handler: Handler) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        if request.scope.get("type") == "http" and not wants_json(request.url.path):
            return await html_error(request, exc)
        result = api_handler(request, exc)
        if inspect.isawaitable(result):
            return await result
        return result

    return handler


def install(app: FastAPI) -> None:
    """Call after the API's handlers are installed."""
    for key, api_handler in list(app.exception_handlers.items()):
        if isinstance(key, type) and key.__name__.startswith("WebSocket"):
            continue
        app.add_exception_handler(key, _negotiating(api_handler))
    app.add_exception_handler(LoginRequired, _login_required)
