"""Who may call what: every API route, for every role, token scope and tenant boundary.

``ROUTES`` lists every operation under ``/api/``, with a valid request for it. A route added to
the app without a row here fails ``test_every_api_route_is_in_the_table``, so the matrix can
never silently fall behind the API. Workspace routes take their permission from the OpenAPI
``x-permission`` extension; what each role may do comes from ``permissions.MATRIX``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import ApiToken, AuditEntry, Membership, User, WebSession, Workspace
from dialogo.accounts.permissions import MATRIX, Permission, Role, Scope
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.channels.schemas import ChannelConnect, ChannelCredentialsIn
from dialogo.core.clock import SystemClock
from dialogo.core.config import Settings
from dialogo.core.context import AppContext
from dialogo.core.db import make_session_factory
from dialogo.notifications import service as notifications
from dialogo.notifications.models import Notification
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeNetwork, credentials_for
from dialogo.publishing import service as publishing
from dialogo.publishing.models import Campaign, Post, WorkspacePublishingSettings
from dialogo.publishing.schemas import PostCreate, VariantIn
from dialogo.server import create_app
from tests.accounts.helpers import png_bytes
from tests.api.conftest import Api, Auth, assert_problem, session_auth, token_auth
from tests.factories import PASSWORD, add_member, make_user, make_workspace

try:  # FastAPI >= 0.120 keeps included routers as nodes of a tree
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI flattens them into app.routes
    iter_route_contexts = None


class Access(enum.Enum):
    PUBLIC = "no credentials needed"
    SIGNED_IN = "any signed-in user, whatever their roles"
    SUPERUSER = "instance administrators only"
    WORKSPACE = "the permission in the route's x-permission, per the caller's role"


@dataclasses.dataclass(frozen=True)
class Ids:
    """What a request needs to name: the workspace, a member in it, a user to add, a token."""

    workspace_id: int
    member_id: int
    candidate_email: str
    token_id: int
    email: str
    channel_id: int = 0
    notification_id: int = 0
    connect: dict[str, Any] = dataclasses.field(default_factory=dict)
    post_id: int = 0  # a draft
    pending_post_id: int = 0  # submitted for approval
    approved_post_id: int = 0
    scheduled_post_id: int = 0


@dataclasses.dataclass(frozen=True)
class Req:
    method: str
    url: str
    json: Any = None
    files: dict[str, tuple[str, bytes, str]] | None = None


@dataclasses.dataclass(frozen=True)
class Case:
    access: Access
    build: Callable[[Ids], Req]
    # Whether the request writes when made with an API token (a read-only token must be refused).
    token_writes: bool | None = None

    def writes(self, ids: Ids) -> bool:
        if self.token_writes is not None:
            return self.token_writes
        return self.build(ids).method != "GET"


def _new_email() -> str:
    return f"new-{secrets.token_hex(4)}@example.com"


W = "/api/v1/workspaces/{workspace_id}"
P = W + "/posts/{post_id}"


def _ws(i: Ids, rest: str) -> str:
    return f"/api/v1/workspaces/{i.workspace_id}{rest}"


def _tomorrow() -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()


ROUTES: dict[tuple[str, str], Case] = {
    ("GET", "/api/openapi.json"): Case(Access.PUBLIC, lambda i: Req("GET", "/api/openapi.json")),
    ("GET", "/api/docs"): Case(Access.PUBLIC, lambda i: Req("GET", "/api/docs")),
    ("GET", "/api/docs/oauth2-redirect"): Case(
        Access.PUBLIC, lambda i: Req("GET", "/api/docs/oauth2-redirect")
    ),
    ("POST", "/api/v1/auth/session"): Case(
        Access.PUBLIC,
        lambda i: Req("POST", "/api/v1/auth/session", {"email": i.email, "password": PASSWORD}),
    ),
    # With a token there is no session to end: nothing is written.
    ("DELETE", "/api/v1/auth/session"): Case(
        Access.SIGNED_IN, lambda i: Req("DELETE", "/api/v1/auth/session"), token_writes=False
    ),
    ("GET", "/api/v1/me"): Case(Access.SIGNED_IN, lambda i: Req("GET", "/api/v1/me")),
    ("PATCH", "/api/v1/me"): Case(
        Access.SIGNED_IN,
        lambda i: Req("PATCH", "/api/v1/me", {"name": "Renamed", "language": "it"}),
    ),
    ("POST", "/api/v1/me/password"): Case(
        Access.SIGNED_IN,
        lambda i: Req(
            "POST",
            "/api/v1/me/password",
            {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        ),
    ),
    ("POST", "/api/v1/users"): Case(
        Access.SUPERUSER,
        lambda i: Req("POST", "/api/v1/users", {"email": _new_email(), "password": "x" * 12}),
    ),
    ("GET", "/api/v1/tokens"): Case(Access.SIGNED_IN, lambda i: Req("GET", "/api/v1/tokens")),
    ("POST", "/api/v1/tokens"): Case(
        Access.SIGNED_IN,
        lambda i: Req("POST", "/api/v1/tokens", {"name": "ci", "scopes": ["read"]}),
    ),
    ("DELETE", "/api/v1/tokens/{token_id}"): Case(
        Access.SIGNED_IN, lambda i: Req("DELETE", f"/api/v1/tokens/{i.token_id}")
    ),
    ("GET", "/api/v1/workspaces"): Case(
        Access.SIGNED_IN, lambda i: Req("GET", "/api/v1/workspaces")
    ),
    ("POST", "/api/v1/workspaces"): Case(
        Access.SIGNED_IN,
        lambda i: Req("POST", "/api/v1/workspaces", {"name": "Another brand", "language": "en"}),
    ),
    ("GET", "/api/v1/system/queue"): Case(
        Access.SIGNED_IN, lambda i: Req("GET", "/api/v1/system/queue")
    ),
    ("GET", W): Case(
        Access.WORKSPACE, lambda i: Req("GET", f"/api/v1/workspaces/{i.workspace_id}")
    ),
    ("PATCH", W): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "PATCH",
            f"/api/v1/workspaces/{i.workspace_id}",
            {"name": "Renamed brand", "timezone": "Europe/London"},
        ),
    ),
    ("DELETE", W): Case(
        Access.WORKSPACE, lambda i: Req("DELETE", f"/api/v1/workspaces/{i.workspace_id}")
    ),
    ("PUT", W + "/logo"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "PUT",
            f"/api/v1/workspaces/{i.workspace_id}/logo",
            files={"file": ("logo.png", png_bytes(2, 2), "image/png")},
        ),
    ),
    ("GET", W + "/logo"): Case(
        Access.WORKSPACE, lambda i: Req("GET", f"/api/v1/workspaces/{i.workspace_id}/logo")
    ),
    ("GET", W + "/members"): Case(
        Access.WORKSPACE, lambda i: Req("GET", f"/api/v1/workspaces/{i.workspace_id}/members")
    ),
    ("POST", W + "/members"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            f"/api/v1/workspaces/{i.workspace_id}/members",
            {"email": i.candidate_email, "role": "viewer"},
        ),
    ),
    ("PATCH", W + "/members/{member_id}"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "PATCH",
            f"/api/v1/workspaces/{i.workspace_id}/members/{i.member_id}",
            {"role": "editor"},
        ),
    ),
    ("DELETE", W + "/members/{member_id}"): Case(
        Access.WORKSPACE,
        lambda i: Req("DELETE", f"/api/v1/workspaces/{i.workspace_id}/members/{i.member_id}"),
    ),
    ("GET", W + "/audit"): Case(
        Access.WORKSPACE, lambda i: Req("GET", f"/api/v1/workspaces/{i.workspace_id}/audit")
    ),
    ("GET", "/api/v1/providers"): Case(Access.SIGNED_IN, lambda i: Req("GET", "/api/v1/providers")),
    ("GET", W + "/channels"): Case(
        Access.WORKSPACE, lambda i: Req("GET", f"/api/v1/workspaces/{i.workspace_id}/channels")
    ),
    ("POST", W + "/channels"): Case(
        Access.WORKSPACE,
        lambda i: Req("POST", f"/api/v1/workspaces/{i.workspace_id}/channels", i.connect),
    ),
    ("GET", W + "/channels/{channel_id}"): Case(
        Access.WORKSPACE,
        lambda i: Req("GET", f"/api/v1/workspaces/{i.workspace_id}/channels/{i.channel_id}"),
    ),
    ("POST", W + "/channels/{channel_id}/check"): Case(
        Access.WORKSPACE,
        lambda i: Req("POST", f"/api/v1/workspaces/{i.workspace_id}/channels/{i.channel_id}/check"),
    ),
    ("DELETE", W + "/channels/{channel_id}"): Case(
        Access.WORKSPACE,
        lambda i: Req("DELETE", f"/api/v1/workspaces/{i.workspace_id}/channels/{i.channel_id}"),
    ),
    ("GET", W + "/notifications"): Case(
        Access.WORKSPACE,
        lambda i: Req("GET", f"/api/v1/workspaces/{i.workspace_id}/notifications"),
    ),
    ("POST", W + "/notifications/{notification_id}/resolve"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            f"/api/v1/workspaces/{i.workspace_id}/notifications/{i.notification_id}/resolve",
        ),
    ),
    ("GET", W + "/publishing/settings"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/publishing/settings"))
    ),
    ("PUT", W + "/publishing/settings"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "PUT",
            _ws(i, "/publishing/settings"),
            {"approval_required": True, "approval_stages": ["editor", "client"]},
        ),
    ),
    ("GET", W + "/campaigns"): Case(Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/campaigns"))),
    ("POST", W + "/campaigns"): Case(
        Access.WORKSPACE,
        lambda i: Req("POST", _ws(i, "/campaigns"), {"name": f"Campaign {secrets.token_hex(3)}"}),
    ),
    ("GET", W + "/posts"): Case(Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/posts"))),
    ("POST", W + "/posts"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST", _ws(i, "/posts"), {"variants": [{"channel_id": i.channel_id, "text": "Hi"}]}
        ),
    ),
    ("GET", P): Case(Access.WORKSPACE, lambda i: Req("GET", _ws(i, f"/posts/{i.post_id}"))),
    ("PATCH", P): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "PATCH",
            _ws(i, f"/posts/{i.post_id}"),
            {"variants": [{"channel_id": i.channel_id, "text": "Edited"}]},
        ),
    ),
    ("POST", P + "/validate"): Case(
        Access.WORKSPACE, lambda i: Req("POST", _ws(i, f"/posts/{i.post_id}/validate"))
    ),
    ("POST", P + "/submit"): Case(
        Access.WORKSPACE,
        lambda i: Req("POST", _ws(i, f"/posts/{i.post_id}/submit"), {"comment": "please"}),
    ),
    ("POST", P + "/approve"): Case(
        Access.WORKSPACE,
        lambda i: Req("POST", _ws(i, f"/posts/{i.pending_post_id}/approve"), {"comment": "ok"}),
    ),
    ("POST", P + "/reject"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST", _ws(i, f"/posts/{i.pending_post_id}/reject"), {"comment": "too long"}
        ),
    ),
    ("POST", P + "/schedule"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, f"/posts/{i.approved_post_id}/schedule"),
            {"scheduled_at": _tomorrow()},
        ),
    ),
    ("POST", P + "/cancel"): Case(
        Access.WORKSPACE, lambda i: Req("POST", _ws(i, f"/posts/{i.scheduled_post_id}/cancel"))
    ),
    ("POST", P + "/duplicate"): Case(
        Access.WORKSPACE, lambda i: Req("POST", _ws(i, f"/posts/{i.post_id}/duplicate"))
    ),
}

KEYS = sorted(ROUTES)
WORKSPACE_KEYS = [k for k in KEYS if ROUTES[k].access is Access.WORKSPACE]
NON_PUBLIC_KEYS = [k for k in KEYS if ROUTES[k].access is not Access.PUBLIC]
# Routes naming a row inside a workspace: reaching B's rows through A must fail too.
NESTED_KEYS = [
    k
    for k in WORKSPACE_KEYS
    if any(p in k[1] for p in ("{member_id}", "{channel_id}", "{notification_id}", "{post_id}"))
]


def key_id(key: tuple[str, str]) -> str:
    return f"{key[0]} {key[1]}"


def api_operations(app: FastAPI) -> set[tuple[str, str]]:
    routes = iter_route_contexts(app.routes) if iter_route_contexts else app.routes
    found: set[tuple[str, str]] = set()
    for route in routes:
        path = getattr(route, "path", None)
        if not path or not (path + "/").startswith("/api/"):
            continue
        methods = getattr(route, "methods", None)
        assert methods, f"{path} is not an endpoint with methods (a mount?): cover it here"
        found |= {(method, path) for method in methods if method != "HEAD"}
    return found


Permissions = dict[tuple[str, str], Permission | None]


@pytest.fixture(scope="module")
def permissions(settings: Settings, engine: Engine) -> Permissions:
    """Each API operation's documented x-permission (built once: the document is large)."""
    ctx = AppContext(settings, engine, make_session_factory(engine), SystemClock())
    app = create_app(ctx)
    paths = app.openapi()["paths"]
    found: Permissions = {}
    for method, path in api_operations(app):
        value = paths.get(path, {}).get(method.lower(), {}).get("x-permission")
        found[(method, path)] = Permission(value) if value is not None else None
    return found


# --- the world a request runs in ---------------------------------------------------------


@dataclasses.dataclass
class World:
    workspace_id: int
    owner: User
    caller: User
    auth: Auth
    ids: Ids
    member_user_ids: list[int]


def membership_id(db: Session, workspace_id: int, user_id: int) -> int:
    found = db.scalar(
        select(Membership.id).where(
            Membership.workspace_id == workspace_id, Membership.user_id == user_id
        )
    )
    assert found is not None
    return found


class Worlds:
    """Builds, per test, a workspace with a logo, a connected channel and a notification; an
    owner; a viewer to act on; a user to add; and a caller with a role, a web session and an
    API token of their own."""

    def __init__(self, db: Session, network: FakeNetwork, cipher: CredentialCipher) -> None:
        self.db, self.network, self.cipher = db, network, cipher
        self.registry = ProviderRegistry({network.name: network.provider_class()})

    def __call__(self, role: Role, *, superuser: bool = False) -> World:
        db = self.db
        owner = make_user(db, superuser=superuser and role is Role.owner)
        as_owner = accounts.Principal.for_user(owner)
        workspace = make_workspace(db, owner, f"Brand {secrets.token_hex(3)}")
        accounts.set_workspace_logo(db, as_owner, workspace.id, png_bytes(), "image/png")
        channel = channels.connect_channel(
            db,
            as_owner,
            workspace.id,
            self.connect_body(),
            registry=self.registry,
            cipher=self.cipher,
        )
        notification = notifications.notify(db, workspace.id, kind="test", title="Look")
        posts = self.posts(db, as_owner, workspace.id, channel.id)
        target = add_member(db, workspace, owner, Role.viewer)
        candidate = make_user(db)
        caller = owner if role is Role.owner else add_member(db, workspace, owner, role)
        if superuser:
            caller.is_superuser = True
        _auth, token_id, _token = token_auth(db, caller, ["read"])
        auth = session_auth(db, caller)
        db.commit()
        ids = Ids(
            workspace_id=workspace.id,
            member_id=membership_id(db, workspace.id, target.id),
            candidate_email=candidate.email,
            token_id=token_id,
            email=caller.email,
            channel_id=channel.id,
            notification_id=notification.id,
            connect=self.connect_body().model_dump(),
            **posts,
        )
        members = [owner.id, target.id] + ([caller.id] if caller is not owner else [])
        return World(workspace.id, owner, caller, auth, ids, members)

    def posts(
        self, db: Session, owner: accounts.Principal, workspace_id: int, channel_id: int
    ) -> dict[str, int]:
        """A draft, a post awaiting approval, an approved one and a scheduled one."""

        def draft() -> int:
            body = PostCreate(variants=[VariantIn(channel_id=channel_id, text="Hello")])
            return publishing.create_post(db, owner, workspace_id, body).id

        ids = {name: draft() for name in ("post_id", "pending", "approved", "scheduled")}
        for name in ("pending", "approved"):
            publishing.submit_post(db, owner, workspace_id, ids[name])
        publishing.approve_post(db, owner, workspace_id, ids["approved"])
        publishing.schedule_post(
            db,
            owner,
            workspace_id,
            ids["scheduled"],
            dt.datetime.now(dt.UTC) + dt.timedelta(days=2),
            registry=self.registry,
            cipher=self.cipher,
        )
        return {
            "post_id": ids["post_id"],
            "pending_post_id": ids["pending"],
            "approved_post_id": ids["approved"],
            "scheduled_post_id": ids["scheduled"],
        }

    def connect_body(self) -> ChannelConnect:
        account = self.network.add_account(f"brand_{secrets.token_hex(3)}")
        return ChannelConnect(
            network=self.network.name,
            credentials=ChannelCredentialsIn(**credentials_for(account)),
        )


@pytest.fixture
def worlds(db: Session, ctx: AppContext) -> Worlds:
    return Worlds(db, FakeNetwork("fakenet"), CredentialCipher.from_settings(ctx.settings))


@pytest.fixture
def app(ctx: AppContext, worlds: Worlds) -> FastAPI:
    """The app, with the fake network installed."""
    return create_app(dataclasses.replace(ctx, providers=worlds.registry))


def snapshot(db: Session, workspace_id: int, user_ids: list[int]) -> dict[str, Any]:
    """Everything a request could change about a workspace and its people, read afresh."""
    db.expire_all()
    ws = db.execute(select(Workspace.__table__).where(Workspace.id == workspace_id)).one_or_none()
    members = db.execute(
        select(Membership.id, Membership.user_id, Membership.role)
        .where(Membership.workspace_id == workspace_id)
        .order_by(Membership.id)
    ).all()
    users = db.execute(
        select(User.id, User.email, User.name, User.language, User.password_hash)
        .where(User.id.in_(user_ids))
        .order_by(User.id)
    ).all()
    tokens = db.execute(
        select(ApiToken.id, ApiToken.revoked_at, ApiToken.name)
        .where(ApiToken.user_id.in_(user_ids))
        .order_by(ApiToken.id)
    ).all()
    audit = db.scalar(
        select(func.count(AuditEntry.id)).where(AuditEntry.workspace_id == workspace_id)
    )
    channel_rows = db.execute(
        select(Channel.__table__).where(Channel.workspace_id == workspace_id).order_by(Channel.id)
    ).all()
    notification_rows = db.execute(
        select(Notification.__table__)
        .where(Notification.workspace_id == workspace_id)
        .order_by(Notification.id)
    ).all()
    post_rows = db.execute(
        select(Post.id, Post.status, Post.approval_step, Post.scheduled_at, Post.campaign_id)
        .where(Post.workspace_id == workspace_id)
        .order_by(Post.id)
    ).all()
    campaigns = db.scalar(
        select(func.count(Campaign.id)).where(Campaign.workspace_id == workspace_id)
    )
    publishing_settings = db.execute(
        select(WorkspacePublishingSettings.__table__).where(
            WorkspacePublishingSettings.workspace_id == workspace_id
        )
    ).all()
    return {
        "posts": [tuple(p) for p in post_rows],
        "campaigns": campaigns,
        "publishing_settings": [tuple(r) for r in publishing_settings],
        "channels": [tuple(c) for c in channel_rows],
        "notifications": [tuple(n) for n in notification_rows],
        "workspace": tuple(ws) if ws is not None else None,
        "members": [tuple(m) for m in members],
        "users": [tuple(u) for u in users],
        "tokens": [tuple(t) for t in tokens],
        "audit": audit,
    }


def send(api: Api, req: Req, auth: Auth | None) -> Any:
    kwargs: dict[str, Any] = {}
    if req.json is not None:
        kwargs["json"] = req.json
    if req.files is not None:
        kwargs["files"] = req.files
    return api.request(req.method, req.url, auth=auth, **kwargs)


def is_success(status: int) -> bool:
    return 200 <= status < 300


# --- the table is complete and agrees with the OpenAPI document ----------------------------


def test_every_api_route_is_in_the_table(app: FastAPI) -> None:
    operations = api_operations(app)
    missing = sorted(operations - set(ROUTES))
    stale = sorted(set(ROUTES) - operations)
    assert not missing, f"add these routes to ROUTES in {__name__}: {missing}"
    assert not stale, f"these ROUTES rows name no route any more: {stale}"


def test_workspace_routes_document_their_permission(app: FastAPI, permissions: Permissions) -> None:
    for key in api_operations(app):
        permission = permissions[key]
        if "{workspace_id}" in key[1]:
            assert permission is not None, f"{key_id(key)} lacks openapi_extra x-permission"
        # The table says WORKSPACE exactly for the routes that document a permission (a route
        # missing from the table is reported by the test above).
        if key in ROUTES:
            is_workspace = ROUTES[key].access is Access.WORKSPACE
            assert is_workspace == (permission is not None), key_id(key)


# --- every role -------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
@pytest.mark.parametrize("key", KEYS, ids=key_id)
def test_role_matrix(
    api: Api,
    permissions: Permissions,
    db: Session,
    key: tuple[str, str],
    role: Role,
    worlds: Worlds,
) -> None:
    case = ROUTES[key]
    world = worlds(role)
    if case.access is Access.WORKSPACE:
        permission = permissions[key]
        assert permission is not None
        allowed = permission in MATRIX[role]
    else:
        allowed = case.access is not Access.SUPERUSER
    before = snapshot(db, world.workspace_id, world.member_user_ids)

    response = send(api, case.build(world.ids), world.auth)

    if allowed:
        assert is_success(response.status_code), (role, response.status_code, response.text)
    else:
        body = assert_problem(response, 403)
        assert body["code"] == "permission_denied"
        assert snapshot(db, world.workspace_id, world.member_user_ids) == before


def test_superuser_may_create_users(api: Api, db: Session, worlds: Worlds) -> None:
    world = worlds(Role.viewer, superuser=True)
    response = send(api, ROUTES[("POST", "/api/v1/users")].build(world.ids), world.auth)
    assert response.status_code == 201, response.text


# --- tenants: a member of A never reaches B ----------------------------------------------


@dataclasses.dataclass
class TwoBrands:
    a: World
    b: World
    b_ids: Ids
    b_user_ids: list[int]


@pytest.fixture
def two_brands(db: Session, worlds: Worlds) -> TwoBrands:
    a = worlds(Role.owner)
    b = worlds(Role.owner)
    _auth, b_token_id, _ = token_auth(db, b.owner, ["admin"])
    db.commit()
    b_ids = dataclasses.replace(b.ids, token_id=b_token_id, candidate_email=a.ids.candidate_email)
    return TwoBrands(a, b, b_ids, b.member_user_ids)


def test_another_workspace_is_not_found_like_a_missing_one(
    api: Api, db: Session, two_brands: TwoBrands
) -> None:
    missing_id = two_brands.b.workspace_id + 10_000
    other = api.get(f"/api/v1/workspaces/{two_brands.b.workspace_id}", auth=two_brands.a.auth)
    missing = api.get(f"/api/v1/workspaces/{missing_id}", auth=two_brands.a.auth)
    assert_problem(other, 404)
    assert_problem(missing, 404)
    assert other.json() == missing.json()


@pytest.mark.parametrize("key", WORKSPACE_KEYS, ids=key_id)
def test_member_of_a_gets_404_for_workspace_b(
    api: Api, db: Session, two_brands: TwoBrands, key: tuple[str, str]
) -> None:
    b = two_brands.b
    before = snapshot(db, b.workspace_id, two_brands.b_user_ids)
    response = send(api, ROUTES[key].build(two_brands.b_ids), two_brands.a.auth)
    assert_problem(response, 404)
    assert snapshot(db, b.workspace_id, two_brands.b_user_ids) == before


@pytest.mark.parametrize("key", NESTED_KEYS, ids=key_id)
def test_rows_of_b_are_not_found_through_workspace_a(
    api: Api, db: Session, two_brands: TwoBrands, key: tuple[str, str]
) -> None:
    """A's id in the path, B's member, channel or notification id after it."""
    b = two_brands.b
    ids = dataclasses.replace(
        two_brands.a.ids,
        member_id=two_brands.b_ids.member_id,
        channel_id=two_brands.b_ids.channel_id,
        notification_id=two_brands.b_ids.notification_id,
        post_id=two_brands.b_ids.post_id,
        pending_post_id=two_brands.b_ids.pending_post_id,
        approved_post_id=two_brands.b_ids.approved_post_id,
        scheduled_post_id=two_brands.b_ids.scheduled_post_id,
    )
    before = snapshot(db, b.workspace_id, two_brands.b_user_ids)
    response = send(api, ROUTES[key].build(ids), two_brands.a.auth)
    assert_problem(response, 404)
    assert snapshot(db, b.workspace_id, two_brands.b_user_ids) == before


def test_tokens_of_others_cannot_be_revoked(api: Api, db: Session, two_brands: TwoBrands) -> None:
    b = two_brands.b
    before = snapshot(db, b.workspace_id, two_brands.b_user_ids)
    response = api.delete(f"/api/v1/tokens/{two_brands.b_ids.token_id}", auth=two_brands.a.auth)
    assert_problem(response, 404)
    assert snapshot(db, b.workspace_id, two_brands.b_user_ids) == before
    listed = api.get("/api/v1/tokens", auth=two_brands.a.auth).json()
    assert two_brands.b_ids.token_id not in {t["id"] for t in listed}


def test_workspace_list_shows_only_own_workspaces(api: Api, two_brands: TwoBrands) -> None:
    listed = api.get("/api/v1/workspaces", auth=two_brands.a.auth).json()
    assert [m["workspace"]["id"] for m in listed] == [two_brands.a.workspace_id]


# --- credentials: none, read-only, restricted to a workspace, revoked, expired -------------


@pytest.mark.parametrize("key", KEYS, ids=key_id)
def test_unauthenticated(api: Api, db: Session, key: tuple[str, str], worlds: Worlds) -> None:
    world = worlds(Role.owner)
    before = snapshot(db, world.workspace_id, world.member_user_ids)
    response = send(api, ROUTES[key].build(world.ids), None)
    if ROUTES[key].access is Access.PUBLIC:
        assert is_success(response.status_code), response.text
    else:
        body = assert_problem(response, 401)
        assert body["code"] == "not_authenticated"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert snapshot(db, world.workspace_id, world.member_user_ids) == before


# Known bugs, reported to the owners of the code; strict, so a fix makes these fail loudly.
READ_TOKEN_BUGS: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(k, marks=pytest.mark.xfail(reason=READ_TOKEN_BUGS[k], strict=True))
        if k in READ_TOKEN_BUGS
        else k
        for k in KEYS
    ],
    ids=key_id,
)
def test_read_only_token_cannot_write(
    api: Api, permissions: Permissions, db: Session, key: tuple[str, str], worlds: Worlds
) -> None:
    """A ``read`` token reads, except what needs the ``admin`` scope even to read (audit)."""
    world = worlds(Role.owner, superuser=True)
    auth, _, _ = token_auth(db, world.caller, ["read"])
    db.commit()
    case = ROUTES[key]
    permission = permissions[key]
    admin_read = permission is not None and permission.scope is Scope.admin
    before = snapshot(db, world.workspace_id, world.member_user_ids)
    response = send(api, case.build(world.ids), auth)
    if case.access is Access.PUBLIC or not (case.writes(world.ids) or admin_read):
        assert is_success(response.status_code), response.text
    else:
        assert_problem(response, 403)
        assert snapshot(db, world.workspace_id, world.member_user_ids) == before


@pytest.mark.parametrize("key", KEYS, ids=key_id)
def test_admin_token_may_do_what_its_user_may(
    api: Api, db: Session, key: tuple[str, str], worlds: Worlds
) -> None:
    """The scope tests above mean something only if a full token does get through."""
    world = worlds(Role.owner, superuser=True)
    auth, _, _ = token_auth(db, world.caller, ["admin"])
    db.commit()
    response = send(api, ROUTES[key].build(world.ids), auth)
    if key == ("POST", "/api/v1/tokens"):
        body = assert_problem(response, 403)  # tokens never mint tokens: sign in for that
        assert "sign in" in body["detail"]
    else:
        assert is_success(response.status_code), response.text


@pytest.mark.parametrize("key", WORKSPACE_KEYS, ids=key_id)
def test_token_restricted_to_a_cannot_reach_b(
    api: Api, db: Session, key: tuple[str, str], worlds: Worlds
) -> None:
    a = worlds(Role.owner)
    b = worlds(Role.owner)
    # The same person owns both brands; the token is for brand A only.
    db.add(Membership(workspace_id=b.workspace_id, user_id=a.owner.id, role=Role.owner.value))
    auth, _, _ = token_auth(db, a.owner, ["admin"], workspace_id=a.workspace_id)
    db.commit()
    b_user_ids = [*b.member_user_ids, a.owner.id]
    before = snapshot(db, b.workspace_id, b_user_ids)

    response = send(api, ROUTES[key].build(b.ids), auth)
    assert_problem(response, 404)
    assert snapshot(db, b.workspace_id, b_user_ids) == before

    # ... while the same request on A goes through.
    response = send(api, ROUTES[key].build(a.ids), auth)
    assert is_success(response.status_code), response.text


def test_token_restricted_to_a_lists_only_a_and_cannot_create_workspaces(
    api: Api, db: Session, worlds: Worlds
) -> None:
    a = worlds(Role.owner)
    b = worlds(Role.owner)
    db.add(Membership(workspace_id=b.workspace_id, user_id=a.owner.id, role=Role.owner.value))
    auth, _, _ = token_auth(db, a.owner, ["admin"], workspace_id=a.workspace_id)
    db.commit()

    listed = api.get("/api/v1/workspaces", auth=auth).json()
    assert [m["workspace"]["id"] for m in listed] == [a.workspace_id]
    # Unrestricted, the same user sees both.
    listed = api.get("/api/v1/workspaces", auth=a.auth).json()
    assert {m["workspace"]["id"] for m in listed} == {a.workspace_id, b.workspace_id}

    count = db.scalar(select(func.count(Workspace.id)))
    response = api.post("/api/v1/workspaces", json={"name": "Escape"}, auth=auth)
    assert_problem(response, 403)
    assert db.scalar(select(func.count(Workspace.id))) == count


def test_token_for_a_workspace_one_is_not_a_member_of_is_refused(
    api: Api, db: Session, two_brands: TwoBrands
) -> None:
    response = api.post(
        "/api/v1/tokens",
        json={"name": "sneaky", "scopes": ["admin"], "workspace_id": two_brands.b.workspace_id},
        auth=two_brands.a.auth,
    )
    assert_problem(response, 404)


@pytest.mark.parametrize("key", NON_PUBLIC_KEYS, ids=key_id)
def test_dead_tokens_are_refused(
    api: Api, db: Session, key: tuple[str, str], worlds: Worlds
) -> None:
    world = worlds(Role.owner, superuser=True)
    revoked, revoked_id, _ = token_auth(db, world.caller, ["admin"])
    accounts.revoke_api_token(db, accounts.Principal.for_user(world.caller), revoked_id)
    expired, expired_id, token = token_auth(db, world.caller, ["admin"])
    db.execute(
        update(ApiToken)
        .where(ApiToken.id == expired_id)
        .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    )
    db.commit()
    dead = {
        "revoked": revoked,
        "expired": expired,
        "unknown": Auth({"Authorization": f"Bearer {token[:-4]}AAAA"}),
        "malformed": Auth({"Authorization": "Bearer not-a-dialogo-token"}),
        "empty": Auth({"Authorization": "Bearer "}),
    }
    before = snapshot(db, world.workspace_id, world.member_user_ids)
    for how, auth in dead.items():
        response = send(api, ROUTES[key].build(world.ids), auth)
        body = assert_problem(response, 401)
        assert body["code"] == "invalid_token", how
    assert snapshot(db, world.workspace_id, world.member_user_ids) == before


# --- web sessions: CSRF on writes, expiry ---------------------------------------------------


@pytest.mark.parametrize(
    "key", [k for k in NON_PUBLIC_KEYS if ROUTES[k].build(Ids(1, 1, "", 1, "")).method != "GET"]
)
def test_cookie_writes_need_the_csrf_token(
    api: Api, db: Session, key: tuple[str, str], worlds: Worlds
) -> None:
    world = worlds(Role.owner, superuser=True)
    cookie_only = Auth({"Cookie": world.auth.headers["Cookie"]})
    wrong = Auth({**world.auth.headers, "X-CSRF-Token": "forged"})
    before = snapshot(db, world.workspace_id, world.member_user_ids)
    for auth in (cookie_only, wrong):
        body = assert_problem(send(api, ROUTES[key].build(world.ids), auth), 403)
        assert body["code"] == "csrf_failed"
    assert snapshot(db, world.workspace_id, world.member_user_ids) == before


def test_expired_web_session_is_refused(api: Api, db: Session, worlds: Worlds) -> None:
    world = worlds(Role.owner)
    assert api.get("/api/v1/me", auth=world.auth).status_code == 200
    db.execute(
        update(WebSession)
        .where(WebSession.user_id == world.caller.id)
        .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    )
    db.commit()
    assert_problem(api.get("/api/v1/me", auth=world.auth), 401)
