"""Accounts API: sign-in, the current user, users, API tokens, workspaces, members, audit log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, UploadFile, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.audit import Actor, set_actor
from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Permission
from dialogo.accounts.schemas import (
    AuditEntryOut,
    Email,
    MemberAdd,
    MemberOut,
    MembershipOut,
    MemberUpdate,
    PasswordChange,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
    WorkspaceCreate,
    WorkspaceOut,
    WorkspaceUpdate,
)
from dialogo.api.deps import (
    SESSION_COOKIE,
    Ctx,
    CurrentPrincipal,
    Db,
    client_ip,
    session_ttl,
)
from dialogo.core.context import AppContext
from dialogo.core.errors import AuthenticationFailed, NotFound

router = APIRouter(prefix="/api/v1")


def needs(permission: Permission) -> dict[str, Any]:
    """Documents the permission a workspace route checks (read by the authorisation tests)."""
    return {"x-permission": permission.value}


def _workspace_out(ws: Workspace) -> WorkspaceOut:
    out = WorkspaceOut.model_validate(ws)
    out.has_logo = ws.logo is not None
    return out


# --- sign-in ---------------------------------------------------------------------------------


class SignIn(BaseModel):
    email: Email
    password: str = Field(max_length=1024)  # no megabyte "passwords" to hash


class SignedIn(BaseModel):
    user: UserOut
    csrf_token: str


def start_session(
    ctx: AppContext,
    session: Session,
    request: Request,
    response: Response,
    email: str,
    password: str,
) -> tuple[User, str]:
    """Shared by the API and the web sign-in form: rate limit, verify, open a session."""
    settings = ctx.settings
    accounts.check_login_allowed(
        session,
        email,
        max_failures=settings.login_max_failures,
        window=dt.timedelta(minutes=settings.login_window_minutes),
    )
    set_actor(session, Actor(label=email))
    user = accounts.authenticate(session, email, password, ip=client_ip(request))
    if user is None:
        session.commit()  # the failed attempt must count even though we answer with an error
        raise AuthenticationFailed("wrong e-mail or password", code="wrong_credentials")
    token, web_session = accounts.create_web_session(
        session,
        user,
        ttl=session_ttl(ctx),
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(session_ttl(ctx).total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )
    return user, web_session.csrf_token


@router.post("/auth/session", tags=["auth"], operation_id="sign_in", response_model=SignedIn)
def sign_in(body: SignIn, request: Request, response: Response, ctx: Ctx, session: Db) -> SignedIn:
    """Sign in with e-mail and password; sets the session cookie. Writes with the cookie must
    send the returned ``csrf_token`` in the ``X-CSRF-Token`` header."""
    user, csrf = start_session(ctx, session, request, response, body.email, body.password)
    return SignedIn(user=UserOut.model_validate(user), csrf_token=csrf)


@router.delete(
    "/auth/session", tags=["auth"], operation_id="sign_out", status_code=status.HTTP_204_NO_CONTENT
)
def sign_out(request: Request, principal: CurrentPrincipal, session: Db) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.end_web_session(session, token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- me and users ----------------------------------------------------------------------------


@router.get("/me", tags=["users"], operation_id="get_me", response_model=UserOut)
def get_me(principal: CurrentPrincipal, session: Db) -> Any:
    return accounts.get_user(session, principal.user_id)


@router.patch("/me", tags=["users"], operation_id="update_me", response_model=UserOut)
def update_me(body: UserUpdate, principal: CurrentPrincipal, session: Db) -> Any:
    return accounts.update_user(session, principal, body)


@router.post(
    "/me/password",
    tags=["users"],
    operation_id="change_my_password",
    status_code=status.HTTP_204_NO_CONTENT,
)
def change_my_password(body: PasswordChange, principal: CurrentPrincipal, session: Db) -> Response:
    accounts.change_password(session, principal, body)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/users",
    tags=["users"],
    operation_id="create_user",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
)
def create_user(body: UserCreate, principal: CurrentPrincipal, session: Db) -> Any:
    """Create an account (instance administrators only)."""
    return accounts.create_user_as(session, principal, body)


# --- API tokens ------------------------------------------------------------------------------


@router.get("/tokens", tags=["tokens"], operation_id="list_tokens", response_model=list[TokenOut])
def list_tokens(principal: CurrentPrincipal, session: Db) -> Any:
    return accounts.list_api_tokens(session, principal)


@router.post(
    "/tokens",
    tags=["tokens"],
    operation_id="create_token",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
)
def create_token(body: TokenCreate, principal: CurrentPrincipal, session: Db) -> Any:
    token, row = accounts.create_api_token(session, principal, body)
    return TokenCreated.model_validate(
        {**TokenOut.model_validate(row).model_dump(), "token": token}
    )


@router.delete(
    "/tokens/{token_id}",
    tags=["tokens"],
    operation_id="revoke_token",
    status_code=status.HTTP_204_NO_CONTENT,
)
def revoke_token(token_id: int, principal: CurrentPrincipal, session: Db) -> Response:
    accounts.revoke_api_token(session, principal, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- workspaces ------------------------------------------------------------------------------


@router.get(
    "/workspaces",
    tags=["workspaces"],
    operation_id="list_workspaces",
    response_model=list[MembershipOut],
)
def list_workspaces(principal: CurrentPrincipal, session: Db) -> list[MembershipOut]:
    return [
        MembershipOut(
            workspace=_workspace_out(ws), role=role, permissions=accounts.permissions_of(role)
        )
        for ws, role in accounts.list_workspaces(session, principal)
    ]


@router.post(
    "/workspaces",
    tags=["workspaces"],
    operation_id="create_workspace",
    response_model=WorkspaceOut,
    status_code=status.HTTP_201_CREATED,
)
def create_workspace(body: WorkspaceCreate, principal: CurrentPrincipal, session: Db) -> Any:
    return _workspace_out(accounts.create_workspace(session, principal, body))


@router.get(
    "/workspaces/{workspace_id}",
    tags=["workspaces"],
    operation_id="get_workspace",
    response_model=WorkspaceOut,
    openapi_extra=needs(Permission.workspace_read),
)
def get_workspace(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return _workspace_out(accounts.get_workspace(session, principal, workspace_id))


@router.patch(
    "/workspaces/{workspace_id}",
    tags=["workspaces"],
    operation_id="update_workspace",
    response_model=WorkspaceOut,
    openapi_extra=needs(Permission.workspace_update),
)
def update_workspace(
    workspace_id: int, body: WorkspaceUpdate, principal: CurrentPrincipal, session: Db
) -> Any:
    return _workspace_out(accounts.update_workspace(session, principal, workspace_id, body))


@router.delete(
    "/workspaces/{workspace_id}",
    tags=["workspaces"],
    operation_id="delete_workspace",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=needs(Permission.workspace_delete),
)
def delete_workspace(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Response:
    accounts.delete_workspace(session, principal, workspace_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/workspaces/{workspace_id}/logo",
    tags=["workspaces"],
    operation_id="set_workspace_logo",
    response_model=WorkspaceOut,
    openapi_extra=needs(Permission.workspace_update),
)
async def set_workspace_logo(
    workspace_id: int, file: UploadFile, principal: CurrentPrincipal, session: Db
) -> Any:
    content = await file.read(accounts.MAX_LOGO_BYTES + 1)
    workspace = accounts.set_workspace_logo(
        session, principal, workspace_id, content, file.content_type or "application/octet-stream"
    )
    return _workspace_out(workspace)


@router.get(
    "/workspaces/{workspace_id}/logo",
    tags=["workspaces"],
    operation_id="get_workspace_logo",
    response_class=Response,
    openapi_extra=needs(Permission.workspace_read),
)
def get_workspace_logo(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Response:
    workspace = accounts.get_workspace(session, principal, workspace_id)
    if workspace.logo is None:
        raise NotFound("this workspace has no logo")
    return Response(
        workspace.logo,
        media_type=workspace.logo_content_type or "application/octet-stream",
        headers={
            "Cache-Control": "private, max-age=300",
            "X-Content-Type-Options": "nosniff",
            # An SVG opened on its own must not run scripts with the app's origin.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        },
    )


# --- members ---------------------------------------------------------------------------------


@router.get(
    "/workspaces/{workspace_id}/members",
    tags=["members"],
    operation_id="list_members",
    response_model=list[MemberOut],
    openapi_extra=needs(Permission.members_read),
)
def list_members(workspace_id: int, principal: CurrentPrincipal, session: Db) -> Any:
    return accounts.list_members(session, principal, workspace_id)


@router.post(
    "/workspaces/{workspace_id}/members",
    tags=["members"],
    operation_id="add_member",
    response_model=MemberOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=needs(Permission.members_manage),
)
def add_member(workspace_id: int, body: MemberAdd, principal: CurrentPrincipal, session: Db) -> Any:
    return accounts.add_member(session, principal, workspace_id, body)


@router.patch(
    "/workspaces/{workspace_id}/members/{member_id}",
    tags=["members"],
    operation_id="update_member",
    response_model=MemberOut,
    openapi_extra=needs(Permission.members_manage),
)
def update_member(
    workspace_id: int,
    member_id: int,
    body: MemberUpdate,
    principal: CurrentPrincipal,
    session: Db,
) -> Any:
    return accounts.update_member_role(session, principal, workspace_id, member_id, body.role)


@router.delete(
    "/workspaces/{workspace_id}/members/{member_id}",
    tags=["members"],
    operation_id="remove_member",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=needs(Permission.members_manage),
)
def remove_member(
    workspace_id: int, member_id: int, principal: CurrentPrincipal, session: Db
) -> Response:
    accounts.remove_member(session, principal, workspace_id, member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- audit -----------------------------------------------------------------------------------


@router.get(
    "/workspaces/{workspace_id}/audit",
    tags=["audit"],
    operation_id="list_audit_entries",
    response_model=list[AuditEntryOut],
    openapi_extra=needs(Permission.audit_read),
)
def list_audit_entries(
    workspace_id: int,
    principal: CurrentPrincipal,
    session: Db,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    return accounts.list_audit(session, principal, workspace_id, limit=limit, before_id=before_id)
