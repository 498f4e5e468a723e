"""Request dependencies shared by the API and the web pages: context, unit of work, principal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.audit import set_actor
from dialogo.accounts.models import User, WebSession
from dialogo.accounts.security import constant_time_equal
from dialogo.core.context import AppContext
from dialogo.core.errors import AuthenticationFailed, PermissionDenied

SESSION_COOKIE = "dialogo_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def get_db(ctx: Ctx) -> Iterator[Session]:
    """One unit of work per request: committed when the handler returns, rolled back on error."""
    session = ctx.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the commit runs before the response is sent, so a failed commit is a 500,
# never a success the client believes while nothing was saved.
Db = Annotated[Session, Depends(get_db, scope="function")]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


class WebIdentity:
    def __init__(self, user: User, web_session: WebSession, token: str) -> None:
        self.user = user
        self.web_session = web_session
        self.token = token


def web_identity(request: Request, session: Session) -> WebIdentity | None:
    cached = getattr(request.state, "web_identity", None)
    if isinstance(cached, WebIdentity):
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    found = accounts.resolve_web_session(session, token)
    if found is None:
        return None
    identity = WebIdentity(found[0], found[1], token)
    request.state.web_identity = identity
    return identity


async def check_csrf(request: Request, identity: WebIdentity) -> None:
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not constant_time_equal(sent, identity.web_session.csrf_token):
        raise PermissionDenied(
            "the form expired or did not come from Dialogo; reload the page and try again",
            code="csrf_failed",
        )


async def get_principal(request: Request, session: Db) -> accounts.Principal:
    """A bearer token (scripts) or the session cookie (web, with CSRF on writes)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        principal = accounts.resolve_api_token(session, auth[7:].strip())
        if principal is None:
            raise AuthenticationFailed(
                "the API token is invalid, expired or revoked", code="invalid_token"
            )
    else:
        identity = web_identity(request, session)
        if identity is None:
            raise AuthenticationFailed("sign in or send an API token", code="not_authenticated")
        await check_csrf(request, identity)
        principal = accounts.Principal.for_user(identity.user)
    set_actor(session, principal.actor)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[accounts.Principal, Depends(get_principal)]


def session_ttl(ctx: AppContext) -> dt.timedelta:
    return dt.timedelta(hours=ctx.settings.session_ttl_hours)
