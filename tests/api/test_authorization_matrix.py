"""Who may call what: every API route, for every role, token scope and tenant boundary.

``ROUTES`` lists every operation under ``/api/``, with a valid request for it. A route added to
the app without a row here fails ``test_every_api_route_is_in_the_table``, so the matrix can
never silently fall behind the API. Workspace routes take their permission from the OpenAPI
``x-permission`` extension; what each role may do comes from ``permissions.MATRIX``. A public
route that authenticates the request rather than its sender (the shop's signed conversion
webhook) is listed with a request lacking that proof, refused whoever sends it; the signed
request is tested on its own below.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, Table, event, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from dialogo.accounts import service as accounts
from dialogo.accounts.models import ApiToken, Membership, User, WebSession, Workspace
from dialogo.accounts.permissions import MATRIX, Permission, Role, Scope
from dialogo.analytics import conversions, experiments, metrics
from dialogo.analytics import schedules as report_schedules
from dialogo.analytics.engagement import MIN_HISTORY
from dialogo.analytics.models import AbArm, AbTest, Conversion, MetricSnapshot
from dialogo.audience import receptiveness
from dialogo.audience import service as audience
from dialogo.audience.models import ContactProfile
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.channels.schemas import ChannelConnect, ChannelCredentialsIn
from dialogo.core.clock import SystemClock
from dialogo.core.config import Settings
from dialogo.core.context import AppContext
from dialogo.core.db import Base, make_session_factory
from dialogo.inbox import ingest
from dialogo.inbox import service as inbox
from dialogo.inbox.models import Conversation, ConversationTag, Message
from dialogo.influence import ugc
from dialogo.influence.service import Evidence, build_graph
from dialogo.listening import service as listening
from dialogo.listening.models import ListeningAlert, Mention, MentionMatch
from dialogo.listening.schemas import MentionIn, QueryCreate
from dialogo.notifications import service as notifications
from dialogo.providers.base import Author, Credentials, InboundMessage, MessageKind, Provider
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.sandbox.provider import DEMO_TOKEN, SandboxProvider
from dialogo.providers.testing import FakeNetwork, credentials_for
from dialogo.publishing import media as media_library
from dialogo.publishing import recurrence, slots, webhooks
from dialogo.publishing import service as publishing
from dialogo.publishing.models import (
    RecurrenceFrequency,
    RecurringOccurrence,
    RecurringPost,
    VariantStatus,
)
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
    """What a request needs to name: the workspace, a member in it, a user to add, a token,
    and one row of each kind the routes act on (see :meth:`Worlds.rows`)."""

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
    conversation_id: int = 0  # an open conversation tagged TAG, from an inbound message
    contact_id: int = 0  # a CRM contact (its profile, interests; in the interaction graph)
    segment_id: int = 0
    query_id: int = 0  # a listening query
    mention_id: int = 0  # a mention it matched
    alert_id: int = 0  # a listening alert on that query
    media_id: int = 0
    webhook_id: int = 0
    recurring_id: int = 0  # a weekly recurring post
    experiment_id: int = 0  # a past campaign with a control group, over CRM contacts
    ugc_request_id: int = 0  # rights asked for the customer's post in the conversation
    rule_id: int = 0  # an inbox rule
    ab_test_id: int = 0  # a running A/B test whose two arms are counted by hand
    report_schedule_id: int = 0  # a weekly e-mail report


# What a request may name inside a workspace: B's ids put in A's path must not be found.
ROW_IDS = (
    "member_id",
    "channel_id",
    "notification_id",
    "post_id",
    "pending_post_id",
    "approved_post_id",
    "scheduled_post_id",
    "conversation_id",
    "contact_id",
    "segment_id",
    "query_id",
    "mention_id",
    "alert_id",
    "media_id",
    "webhook_id",
    "recurring_id",
    "experiment_id",
    "ugc_request_id",
    "rule_id",
    "ab_test_id",
    "report_schedule_id",
)
ROW_PARAMS = (
    "{member_id}",
    "{channel_id}",
    "{notification_id}",
    "{post_id}",
    "{conversation_id}",
    "{contact_id}",
    "{segment_id}",
    "{query_id}",
    "{mention_id}",
    "{alert_id}",
    "{media_id}",
    "{webhook_id}",
    "{recurring_id}",
    "{experiment_id}",
    "{request_id}",
    "{rule_id}",
    "{test_id}",
    "{schedule_id}",
)
TAG = "vip"


@dataclasses.dataclass(frozen=True)
class Req:
    method: str
    url: str
    json: Any = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    data: dict[str, str] | None = None  # form fields sent with ``files``
    content: bytes | None = None  # a raw body (CSV imports), with its Content-Type in headers
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Case:
    access: Access
    build: Callable[[Ids], Req]
    # Whether the request writes when made with an API token (a read-only token must be refused).
    token_writes: bool | None = None
    # A PUBLIC route that authenticates the request itself (a signature), not its sender: the
    # table's request lacks that proof, and whoever sends it gets a 401 with this code.
    refused: str | None = None

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


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _posts_file(i: Ids) -> bytes:
    return json.dumps([{"channel": i.channel_id, "text": "Imported from a spreadsheet"}]).encode()


def _mentions_csv() -> bytes:
    return f"id,text,posted_at\nimp-1,Tried Aurora's beans today,{_now()}\n".encode()


C = W + "/conversations/{conversation_id}"
L = W + "/listening"
A = W + "/audience"


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
    ("PATCH", W + "/channels/{channel_id}"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "PATCH",
            f"/api/v1/workspaces/{i.workspace_id}/channels/{i.channel_id}",
            {"name": "Renamed channel"},
        ),
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
    ("POST", P + "/queue"): Case(
        Access.WORKSPACE, lambda i: Req("POST", _ws(i, f"/posts/{i.approved_post_id}/queue"))
    ),
    ("POST", W + "/posts/import"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/posts/import"),
            files={"file": ("posts.json", _posts_file(i), "application/json")},
        ),
    ),
    ("GET", W + "/publishing/health"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/publishing/health"))
    ),
    # --- publishing: recurring posts, queue slots, media, webhooks ---------------------------
    ("GET", W + "/recurring-posts"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/recurring-posts"))
    ),
    ("POST", W + "/recurring-posts"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/recurring-posts"),
            {
                "name": "Friday tip",
                "frequency": "weekly",
                "weekdays": [4],
                "local_time": "17:30",
                "starts_on": dt.date.today().isoformat(),
                "variants": [{"channel_id": i.channel_id, "text": "Weekend brew tip"}],
            },
        ),
    ),
    ("GET", W + "/recurring-posts/{recurring_id}/posts"): Case(
        Access.WORKSPACE,
        lambda i: Req("GET", _ws(i, f"/recurring-posts/{i.recurring_id}/posts")),
    ),
    ("POST", W + "/recurring-posts/{recurring_id}/stop"): Case(
        Access.WORKSPACE,
        lambda i: Req("POST", _ws(i, f"/recurring-posts/{i.recurring_id}/stop")),
    ),
    ("GET", W + "/queue-slots"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/queue-slots"))
    ),
    ("GET", W + "/queue-slots/next"): Case(
        Access.WORKSPACE,
        lambda i: Req("GET", _ws(i, f"/queue-slots/next?channel_id={i.channel_id}")),
    ),
    ("PUT", W + "/channels/{channel_id}/queue-slots"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "PUT",
            _ws(i, f"/channels/{i.channel_id}/queue-slots"),
            [{"weekday": 0, "local_time": "08:30"}, {"weekday": 3, "local_time": "12:00"}],
        ),
    ),
    ("GET", W + "/media"): Case(Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/media"))),
    ("POST", W + "/media"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/media"),
            files={"file": ("beans.png", png_bytes(5, 4), "image/png")},
            data={"alt_text": "A bag of beans"},
        ),
    ),
    ("PATCH", W + "/media/{media_id}"): Case(
        Access.WORKSPACE,
        lambda i: Req("PATCH", _ws(i, f"/media/{i.media_id}"), {"alt_text": "A cup of coffee"}),
    ),
    ("GET", W + "/webhooks"): Case(Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/webhooks"))),
    ("POST", W + "/webhooks"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/webhooks"),
            {"url": "https://example.com/hooks/other", "events": ["post.published"]},
        ),
    ),
    ("DELETE", W + "/webhooks/{webhook_id}"): Case(
        Access.WORKSPACE, lambda i: Req("DELETE", _ws(i, f"/webhooks/{i.webhook_id}"))
    ),
    ("GET", W + "/webhooks/{webhook_id}/deliveries"): Case(
        Access.WORKSPACE,
        lambda i: Req("GET", _ws(i, f"/webhooks/{i.webhook_id}/deliveries")),
    ),
    # --- inbox ---------------------------------------------------------------------------
    ("GET", W + "/conversations"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/conversations"))
    ),
    ("GET", C): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, f"/conversations/{i.conversation_id}"))
    ),
    ("POST", C + "/assign"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST", _ws(i, f"/conversations/{i.conversation_id}/assign"), {"round_robin": True}
        ),
    ),
    ("POST", C + "/status"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST", _ws(i, f"/conversations/{i.conversation_id}/status"), {"status": "closed"}
        ),
    ),
    ("POST", C + "/tags"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST", _ws(i, f"/conversations/{i.conversation_id}/tags"), {"tag": "opening-hours"}
        ),
    ),
    ("DELETE", C + "/tags/{tag}"): Case(
        Access.WORKSPACE,
        lambda i: Req("DELETE", _ws(i, f"/conversations/{i.conversation_id}/tags/{TAG}")),
    ),
    ("POST", C + "/notes"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, f"/conversations/{i.conversation_id}/notes"),
            {"body": "Regular customer, answer in Italian"},
        ),
    ),
    ("POST", C + "/replies"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, f"/conversations/{i.conversation_id}/replies"),
            {"text": "Yes, from 9 to 13 on Sundays!"},
        ),
    ),
    ("GET", W + "/inbox/quarantine"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/inbox/quarantine"))
    ),
    ("GET", W + "/inbox/settings"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/inbox/settings"))
    ),
    ("PUT", W + "/inbox/settings"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "PUT",
            _ws(i, "/inbox/settings"),
            {
                "first_response_minutes": 30,
                "resolution_minutes": 480,
                "business_hours": {"mon": [{"start": "09:00", "end": "18:00"}]},
            },
        ),
    ),
    ("GET", W + "/inbox/stats"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/inbox/stats"))
    ),
    ("GET", W + "/contacts/{contact_id}/history"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, f"/contacts/{i.contact_id}/history"))
    ),
    ("GET", W + "/inbox/rules"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/inbox/rules"))
    ),
    ("POST", W + "/inbox/rules"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/inbox/rules"),
            {
                "name": "Opening hours",
                "conditions": {"words": ["open", "sunday"], "question": True},
                "actions": {"tag": "opening-hours"},
            },
        ),
    ),
    ("PUT", W + "/inbox/rules/{rule_id}"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "PUT",
            _ws(i, f"/inbox/rules/{i.rule_id}"),
            {"name": "Complaints", "conditions": {"complaint": True}, "actions": {"close": False}},
        ),
    ),
    ("DELETE", W + "/inbox/rules/{rule_id}"): Case(
        Access.WORKSPACE, lambda i: Req("DELETE", _ws(i, f"/inbox/rules/{i.rule_id}"))
    ),
    ("GET", W + "/inbox/saved-replies"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/inbox/saved-replies"))
    ),
    ("POST", W + "/inbox/saved-replies"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/inbox/saved-replies"),
            {"name": f"Thanks {secrets.token_hex(4)}", "body": "Thanks {name}!"},
        ),
    ),
    ("GET", W + "/inbox/mentionable"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/inbox/mentionable?q=a"))
    ),
    # --- listening -----------------------------------------------------------------------
    ("GET", L + "/queries"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/listening/queries"))
    ),
    ("POST", L + "/queries"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/listening/queries"),
            {"name": "Moka Nera", "query": '"moka nera"', "kind": "competitor"},
        ),
    ),
    ("PATCH", L + "/queries/{query_id}"): Case(
        Access.WORKSPACE,
        lambda i: Req("PATCH", _ws(i, f"/listening/queries/{i.query_id}"), {"active": False}),
    ),
    ("DELETE", L + "/queries/{query_id}"): Case(
        Access.WORKSPACE, lambda i: Req("DELETE", _ws(i, f"/listening/queries/{i.query_id}"))
    ),
    ("GET", L + "/mentions"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/listening/mentions"))
    ),
    ("PUT", L + "/mentions/{mention_id}/label"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "PUT", _ws(i, f"/listening/mentions/{i.mention_id}/label"), {"label": "positive"}
        ),
    ),
    ("POST", L + "/import"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/listening/import?format=csv"),
            files={"file": ("mentions.csv", _mentions_csv(), "text/csv")},
        ),
    ),
    ("POST", L + "/intake"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/listening/intake"),
            [{"id": "hook-1", "text": "Aurora's espresso!", "posted_at": _now()}],
        ),
    ),
    ("POST", L + "/ingest"): Case(
        Access.WORKSPACE, lambda i: Req("POST", _ws(i, "/listening/ingest"))
    ),
    ("GET", L + "/reputation"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/listening/reputation"))
    ),
    ("GET", L + "/alerts"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/listening/alerts"))
    ),
    ("GET", L + "/alerts/{alert_id}/crisis"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, f"/listening/alerts/{i.alert_id}/crisis"))
    ),
    ("GET", L + "/topics"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/listening/topics"))
    ),
    ("GET", L + "/label-requests"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/listening/label-requests"))
    ),
    ("POST", L + "/alert-targets"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/listening/alert-targets"),
            {"target": "https://example.com/alerts", "secret": "s" * 24},
        ),
    ),
    # --- audience ------------------------------------------------------------------------
    ("GET", A + "/profiles"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/audience/profiles"))
    ),
    # Computes a count: a read, whatever the method.
    ("POST", A + "/size"): Case(
        Access.WORKSPACE,
        lambda i: Req("POST", _ws(i, "/audience/size"), {"expression": "interest:running"}),
        token_writes=False,
    ),
    ("GET", A + "/segments"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/audience/segments"))
    ),
    ("POST", A + "/segments"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/audience/segments"),
            {"name": "Campania", "expression": "region = Campania"},
        ),
    ),
    ("DELETE", A + "/segments/{segment_id}"): Case(
        Access.WORKSPACE, lambda i: Req("DELETE", _ws(i, f"/audience/segments/{i.segment_id}"))
    ),
    ("GET", A + "/overlaps"): Case(
        Access.WORKSPACE,
        lambda i: Req("GET", _ws(i, f"/audience/overlaps?ids={i.segment_id}")),
    ),
    ("POST", A + "/export"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST", _ws(i, "/audience/export"), {"expression": "interest:running", "format": "meta"}
        ),
    ),
    ("POST", A + "/import"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/audience/import?" + urlencode([("map", "E-mail=email")])),
            content=b"E-mail\nmarco@example.com\n",
            headers={"Content-Type": "text/csv"},
        ),
    ),
    # A GET, but the export is audited and needs the audience.export permission (write scope).
    ("GET", A + "/contacts/{contact_id}/export"): Case(
        Access.WORKSPACE,
        lambda i: Req("GET", _ws(i, f"/audience/contacts/{i.contact_id}/export")),
        token_writes=True,
    ),
    ("DELETE", A + "/contacts/{contact_id}"): Case(
        Access.WORKSPACE, lambda i: Req("DELETE", _ws(i, f"/audience/contacts/{i.contact_id}"))
    ),
    ("GET", A + "/contacts/{contact_id}/profile"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, f"/audience/contacts/{i.contact_id}/profile"))
    ),
    ("GET", A + "/experiments"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/audience/experiments"))
    ),
    ("POST", A + "/experiments/import"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/audience/experiments/import?name=Autumn&topic=coffee"),
            content=experiment_csv(FEW_PEOPLE).encode(),
            headers={"Content-Type": "text/csv"},
        ),
    ),
    ("DELETE", A + "/experiments/{experiment_id}"): Case(
        Access.WORKSPACE,
        lambda i: Req("DELETE", _ws(i, f"/audience/experiments/{i.experiment_id}")),
    ),
    ("GET", A + "/experiments/{experiment_id}/receptiveness"): Case(
        Access.WORKSPACE,
        lambda i: Req("GET", _ws(i, f"/audience/experiments/{i.experiment_id}/receptiveness")),
    ),
    # --- influence -----------------------------------------------------------------------
    ("GET", W + "/influence/ugc/candidates"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/influence/ugc/candidates"))
    ),
    ("GET", W + "/influence/ugc/requests"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/influence/ugc/requests"))
    ),
    ("POST", W + "/influence/ugc/requests"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/influence/ugc/requests"),
            {"item_key": f"mention:{i.mention_id}", "request_text": "Can we repost this?"},
        ),
    ),
    ("POST", W + "/influence/ugc/requests/{request_id}/answer"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, f"/influence/ugc/requests/{i.ugc_request_id}/answer"),
            {"status": "granted", "rights": "Instagram and the website, for one year"},
        ),
    ),
    ("GET", W + "/influence/graph"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/influence/graph"))
    ),
    ("POST", W + "/influence/graph/rebuild"): Case(
        Access.WORKSPACE, lambda i: Req("POST", _ws(i, "/influence/graph/rebuild"))
    ),
    ("GET", W + "/influence/rankings"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/influence/rankings"))
    ),
    # Computes a plan, stores nothing: a read.
    ("POST", W + "/influence/advocates"): Case(
        Access.WORKSPACE,
        lambda i: Req("POST", _ws(i, "/influence/advocates"), {"k": 1, "runs": 100}),
        token_writes=False,
    ),
    # --- analytics -----------------------------------------------------------------------
    ("GET", W + "/analytics/dashboard"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/analytics/dashboard"))
    ),
    ("GET", W + "/analytics/roi"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/analytics/roi?by=channel"))
    ),
    ("GET", W + "/analytics/attribution"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/analytics/attribution"))
    ),
    ("GET", W + "/analytics/best-time"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/analytics/best-time"))
    ),
    ("GET", W + "/links"): Case(Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/links"))),
    ("POST", W + "/links"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/links"),
            {"url": "https://example.com/shop/moka", "channel_id": i.channel_id},
        ),
    ),
    ("GET", W + "/conversions"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/conversions"))
    ),
    ("POST", W + "/conversions"): Case(
        Access.WORKSPACE,
        lambda i: Req("POST", _ws(i, "/conversions"), {"order_id": "A-1001", "value": "24.90"}),
    ),
    ("POST", W + "/conversions/import"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/conversions/import"),
            content=b"order_id,value\nA-2001,12.50\nA-2002,7.00\n",
            headers={"Content-Type": "text/csv"},
        ),
    ),
    ("GET", W + "/conversions/webhook-secret"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/conversions/webhook-secret"))
    ),
    ("POST", W + "/conversions/webhook-secret/rotate"): Case(
        Access.WORKSPACE, lambda i: Req("POST", _ws(i, "/conversions/webhook-secret/rotate"))
    ),
    ("GET", W + "/analytics/export/{table}.csv"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/analytics/export/daily.csv?days=7"))
    ),
    ("GET", W + "/analytics/export.xlsx"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/analytics/export.xlsx"))
    ),
    ("GET", W + "/analytics/engagement/drafts"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/analytics/engagement/drafts"))
    ),
    # Ranks where and when a text would do best, stores nothing: a read.
    ("POST", W + "/analytics/engagement/placements"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/analytics/engagement/placements"),
            {"text": "New autumn blend, taste it in the shop!", "media": 1, "limit": 3},
        ),
        token_writes=False,
    ),
    # Splits a draft's prediction over the audience segments, stores nothing: a read.
    ("POST", W + "/analytics/engagement/segments"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/analytics/engagement/segments"),
            {"text": "New autumn blend, taste it in the shop!", "channel_id": i.channel_id},
        ),
        token_writes=False,
    ),
    ("GET", W + "/analytics/ab-tests"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/analytics/ab-tests"))
    ),
    ("POST", W + "/analytics/ab-tests"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/analytics/ab-tests"),
            {
                "name": "Two drafts",
                "metric": "clicks",
                "arms": [
                    {"name": "short"},
                    {"name": "long", "weight": 2, "trials": 10, "successes": 1},
                ],
            },
        ),
    ),
    ("GET", W + "/analytics/ab-tests/{test_id}"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, f"/analytics/ab-tests/{i.ab_test_id}"))
    ),
    ("PUT", W + "/analytics/ab-tests/{test_id}/counts"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "PUT",
            _ws(i, f"/analytics/ab-tests/{i.ab_test_id}/counts"),
            {"plain": {"successes": 12, "trials": 240}, "emoji": {"successes": 20, "trials": 240}},
        ),
    ),
    ("POST", W + "/analytics/ab-tests/{test_id}/stop"): Case(
        Access.WORKSPACE,
        lambda i: Req("POST", _ws(i, f"/analytics/ab-tests/{i.ab_test_id}/stop")),
    ),
    ("GET", W + "/analytics/ab-tests/{test_id}/assign"): Case(
        Access.WORKSPACE,
        lambda i: Req("GET", _ws(i, f"/analytics/ab-tests/{i.ab_test_id}/assign?unit=contact-7")),
    ),
    ("GET", W + "/analytics/report-schedules"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/analytics/report-schedules"))
    ),
    ("POST", W + "/analytics/report-schedules"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/analytics/report-schedules"),
            {
                "name": "Monthly",
                "frequency": "monthly",
                "month_day": 1,
                "language": "it",
                "recipients": ["boss@example.com"],
            },
        ),
    ),
    ("GET", W + "/analytics/report-schedules/{schedule_id}"): Case(
        Access.WORKSPACE,
        lambda i: Req("GET", _ws(i, f"/analytics/report-schedules/{i.report_schedule_id}")),
    ),
    ("PUT", W + "/analytics/report-schedules/{schedule_id}"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "PUT",
            _ws(i, f"/analytics/report-schedules/{i.report_schedule_id}"),
            {
                "name": "Weekly",
                "frequency": "weekly",
                "weekday": 4,
                "local_time": "17:30",
                "recipients": ["boss@example.com", "team@example.com"],
            },
        ),
    ),
    ("DELETE", W + "/analytics/report-schedules/{schedule_id}"): Case(
        Access.WORKSPACE,
        lambda i: Req("DELETE", _ws(i, f"/analytics/report-schedules/{i.report_schedule_id}")),
    ),
    ("GET", W + "/analytics/report-schedules/{schedule_id}/deliveries"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "GET", _ws(i, f"/analytics/report-schedules/{i.report_schedule_id}/deliveries")
        ),
    ),
    ("POST", W + "/analytics/report-schedules/{schedule_id}/send"): Case(
        Access.WORKSPACE,
        lambda i: Req("POST", _ws(i, f"/analytics/report-schedules/{i.report_schedule_id}/send")),
    ),
    ("GET", W + "/analytics/competitors"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/analytics/competitors?days=30"))
    ),
    ("GET", W + "/spend"): Case(Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/spend"))),
    ("POST", W + "/spend"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/spend"),
            {"day": dt.date.today().isoformat(), "amount": "40.00", "channel_id": i.channel_id},
        ),
    ),
    ("POST", W + "/spend/import"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/spend/import"),
            content=b"day,amount\n2026-05-01,10.00\n2026-05-02,12.00\n",
            headers={"Content-Type": "text/csv"},
        ),
    ),
    # Signed by the shop, not sent by a user: without its signature every caller is refused
    # (the signed request is tested below, test_conversion_webhook_*).
    ("POST", "/api/v1/hooks/conversions/{workspace_id}"): Case(
        Access.PUBLIC,
        lambda i: Req(
            "POST",
            f"/api/v1/hooks/conversions/{i.workspace_id}",
            {"order_id": "W-1", "value": "9.90"},
        ),
        refused="signature_missing",
    ),
    # --- sandbox -------------------------------------------------------------------------
    ("GET", W + "/sandbox/whatif"): Case(
        Access.WORKSPACE, lambda i: Req("GET", _ws(i, "/sandbox/whatif"))
    ),
    # A forecast: nothing is stored or published, so a read.
    ("POST", W + "/sandbox/whatif"): Case(
        Access.WORKSPACE,
        lambda i: Req(
            "POST",
            _ws(i, "/sandbox/whatif"),
            {"posts": [{"at": "2026-01-12T09:00:00+01:00", "topic": "coffee"}], "runs": 10},
        ),
        token_writes=False,
    ),
}

KEYS = sorted(ROUTES)
# Routes reading the workspace's published history (the engagement model trains on it): only
# their worlds get one (see :meth:`Worlds.history`).
NEEDS_HISTORY = {
    ("GET", W + "/analytics/engagement/drafts"),
    ("POST", W + "/analytics/engagement/placements"),
    ("POST", W + "/analytics/engagement/segments"),
}
# Routes learning from the past campaign (the uplift model needs its whole CRM, see PEOPLE).
NEEDS_CAMPAIGN = {
    ("GET", A + "/experiments/{experiment_id}/receptiveness"),
}
WORKSPACE_KEYS = [k for k in KEYS if ROUTES[k].access is Access.WORKSPACE]
NON_PUBLIC_KEYS = [k for k in KEYS if ROUTES[k].access is not Access.PUBLIC]
# Routes naming a row inside a workspace: reaching B's rows through A must fail too.
NESTED_KEYS = [k for k in WORKSPACE_KEYS if any(p in k[1] for p in ROW_PARAMS)]


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


def _no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"these providers run in-process; nothing may call {request.url}")


def offline(provider: type[Provider]) -> type[Provider]:
    """The provider with an HTTP client that refuses every request. Both networks here run
    in-process, and the default client costs a TLS context (CA bundle) per opening, which is
    most of the time of a world made of a thousand openings."""

    class Offline(provider):  # type: ignore[valid-type, misc]
        def __init__(
            self,
            credentials: Credentials,
            *,
            http: httpx.Client | None = None,
            config: dict[str, str] | None = None,
        ) -> None:
            http = http or httpx.Client(transport=httpx.MockTransport(_no_network))
            super().__init__(credentials, http=http, config=config)

    Offline.__name__ = Offline.__qualname__ = provider.__name__
    return Offline


# CRM contacts (a third are runners) and a past campaign over them with a random control group,
# where runners respond more when treated: enough for the uplift models to learn from.
# Importing them is half the cost of a world, so only the routes that learn from the campaign
# get all of them (NEEDS_CAMPAIGN); the others get the first few, the same rows in kind.
PEOPLE = 60
FEW_PEOPLE = 6


def crm_csv(people: int) -> str:
    return "email,interests,region\n" + "".join(
        f"p{n}@example.com,{'running' if n % 3 == 0 else 'cooking'},Campania\n"
        for n in range(people)
    )


def experiment_csv(people: int) -> str:
    return "email,treated,responded\n" + "".join(
        f"p{n}@example.com,{n % 2},{int((n % 3 == 0 and n % 2 == 1) or n % 7 == 0)}\n"
        for n in range(people)
    )


# The sandbox world every test workspace connects to (what-if runs on it): small, so cheap.
SANDBOX = {"seed": "3", "population": "600", "start": "2026-01-01", "history_days": "10"}


@dataclasses.dataclass(frozen=True)
class Seed:
    """A world as built once per module (its people by id: each test loads them afresh)."""

    workspace_id: int
    owner_id: int
    caller_id: int
    auth: Auth
    ids: Ids
    member_user_ids: list[int]


class Worlds:
    """Builds a workspace with a logo, a connected channel and a notification, posts in each
    state, and a row of every kind a route can name (a conversation, a contact, a segment, a
    listening query and a mention, a media item, a webhook, a recurring post, queue slots, an
    interaction graph) plus a sandbox channel; an owner; a viewer to act on; a user to add; and
    a caller with a role, a web session and an API token of their own. Once per module and
    kind of world (see :class:`Matrix`): each test runs in a savepoint rolled back after it."""

    def __init__(self, network: FakeNetwork, cipher: CredentialCipher, data_dir: Path) -> None:
        self.network, self.cipher, self.data_dir = network, cipher, data_dir
        # The route the world is built for, if any: data only some routes read is built for them.
        self.key: tuple[str, str] | None = None
        self.registry = ProviderRegistry(
            {network.name: offline(network.provider_class()), "sandbox": offline(SandboxProvider)}
        )
        # The files the worlds wrote (media): a test deleting one is undone after it.
        self.files: dict[Path, bytes] = {}

    def build(
        self, db: Session, role: Role, *, superuser: bool, key: tuple[str, str] | None
    ) -> Seed:
        self.key = key
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
        channels.connect_channel(
            db,
            as_owner,
            workspace.id,
            ChannelConnect(
                network="sandbox",
                credentials=ChannelCredentialsIn(access_token=DEMO_TOKEN),
                config=SANDBOX,
            ),
            registry=self.registry,
            cipher=self.cipher,
        )
        notification = notifications.notify(db, workspace.id, kind="test", title="Look")
        if self.key in NEEDS_HISTORY:
            self.history(db, as_owner, workspace.id, channel.id)
        posts = self.posts(db, as_owner, workspace.id, channel.id)
        rows = self.rows(db, as_owner, workspace.id, channel)
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
            **rows,
        )
        members = [owner.id, target.id] + ([caller.id] if caller is not owner else [])
        return Seed(workspace.id, owner.id, caller.id, auth, ids, members)

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

    def history(
        self, db: Session, owner: accounts.Principal, workspace_id: int, channel_id: int
    ) -> None:
        """Published posts with metrics, enough for the engagement model to train on: the
        variants are marked published and their snapshots rolled up as the collector does
        (publishing them through the dispatcher would cost far more, for the same rows)."""
        now = dt.datetime.now(dt.UTC)
        published = []
        for n in range(MIN_HISTORY + 2):
            body = PostCreate(variants=[VariantIn(channel_id=channel_id, text=f"Espresso {n}")])
            variant = publishing.create_post(db, owner, workspace_id, body).variants[0]
            variant.status = VariantStatus.published.value
            variant.published_at = now - dt.timedelta(days=n + 1, hours=3 * n)
            variant.remote_id = f"remote-{n}"
            published.append(variant)
        db.flush()
        for n, variant in enumerate(published):
            db.add(
                MetricSnapshot(
                    workspace_id=workspace_id,
                    variant_id=variant.id,
                    observed_at=now - dt.timedelta(hours=n),
                    impressions=500 + 40 * n,
                    likes=10 + 3 * n,
                    replies=n % 4,
                    clicks=5 + n,
                    followers=1200,
                )
            )
        db.flush()
        metrics.refresh_rollups(db, published)

    def rows(
        self, db: Session, owner: accounts.Principal, workspace_id: int, channel: Channel
    ) -> dict[str, int]:
        """One row of each kind the newer routes name, made through the domains' services."""
        now = dt.datetime.now(dt.UTC)
        # Inbox: a customer's question arrives on the channel and opens a conversation.
        inbound = InboundMessage(
            remote_id=f"in-{secrets.token_hex(4)}",
            kind=MessageKind.mention,
            author=Author(remote_id="id-alice", handle="alice", display_name="Alice"),
            text="Is the shop open on Sunday?",
            created_at=now - dt.timedelta(hours=1),
        )
        ingest.store_messages(db, channel, [inbound])
        conversation = db.scalars(
            select(Conversation).where(
                Conversation.channel_id == channel.id, Conversation.thread_key == inbound.remote_id
            )
        ).one()
        inbox.add_tag(db, owner, workspace_id, conversation.id, TAG)
        # Audience: CRM contacts, a past campaign over them, a saved segment; influence: a
        # graph over two people, and rights asked for the customer's post.
        people = PEOPLE if self.key in NEEDS_CAMPAIGN else FEW_PEOPLE
        audience.import_csv(
            db,
            owner,
            workspace_id,
            crm_csv(people),
            {"email": "email", "interests": "interests", "region": "region"},
        )
        contact_id = db.scalars(
            select(ContactProfile.contact_id).where(
                ContactProfile.workspace_id == workspace_id,
                ContactProfile.email == "p0@example.com",
            )
        ).one()
        experiment = receptiveness.import_experiment_csv(
            db, owner, workspace_id, "Spring running", experiment_csv(people), topic="running"
        )
        message_id = db.scalars(
            select(Message.id).where(Message.conversation_id == conversation.id)
        ).one()
        ugc_request = ugc.request_rights(
            db, owner, workspace_id, f"message:{message_id}", "May we share your photo?"
        )
        segment = audience.create_segment(db, owner, workspace_id, "Runners", "interest:running")
        assert conversation.contact_id is not None
        build_graph(db, workspace_id, Evidence(follows=[(contact_id, conversation.contact_id)]))
        # Listening: a query and a mention it matched (pushed through the intake).
        query = listening.create_query(
            db, owner, workspace_id, QueryCreate(name="Brand", query="aurora")
        )
        listening.intake(
            db,
            owner,
            workspace_id,
            [MentionIn(id="m-1", text="Caffè Aurora is lovely", posted_at=now)],
        )
        mention_id = db.scalars(
            select(Mention.id).where(Mention.workspace_id == workspace_id)
        ).one()
        alert = ListeningAlert(
            workspace_id=workspace_id,
            query_id=query.id,
            kind="volume",
            window_start=now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1),
            observed=6.0,
            expected=1.0,
            threshold=4.0,
        )
        db.add(alert)
        db.flush()
        # Publishing: a media item, a webhook, a weekly recurring post, queue slots.
        asset = media_library.upload(
            db, owner, workspace_id, png_bytes(3, 3), filename="cup.png", data_dir=self.data_dir
        )
        self.files[self.data_dir / asset.storage_path] = png_bytes(3, 3)
        endpoint, _secret = webhooks.create_endpoint(
            db,
            owner,
            workspace_id,
            webhooks.WebhookIn(url="https://example.com/hooks/dialogo"),
            cipher=self.cipher,
        )
        recurring = recurrence.create_recurring(
            db,
            owner,
            workspace_id,
            recurrence.RecurringIn(
                name="Monday greeting",
                frequency=RecurrenceFrequency.weekly,
                weekdays=[0],
                local_time="09:00",
                starts_on=now.date(),
                variants=[VariantIn(channel_id=channel.id, text="Buon lunedì")],
            ),
            registry=self.registry,
            cipher=self.cipher,
            now=now,
        )
        slots.set_slots(
            db,
            owner,
            workspace_id,
            channel.id,
            [slots.SlotIn(weekday=day, local_time="10:00") for day in range(7)],
        )
        # Inbox rules; analytics: an A/B test of two newsletters, counted by hand.
        rule = inbox.create_rule(
            db,
            owner,
            workspace_id,
            name="Complaints first",
            conditions={"complaint": True},
            actions={"priority": 1, "tag": "complaint"},
        )
        ab_test = experiments.create_test(
            db,
            owner,
            workspace_id,
            name="Subject line",
            arms=[
                experiments.ArmSpec(name="plain", trials=200, successes=10),
                experiments.ArmSpec(name="emoji", trials=200, successes=16),
            ],
        )
        report_schedule = report_schedules.create_schedule(
            db,
            owner,
            workspace_id,
            report_schedules.ReportScheduleIn(
                name="Monday numbers", frequency="weekly", weekday=0, recipients=["a@example.com"]
            ),
            now=now,
        )
        return {
            "conversation_id": conversation.id,
            "contact_id": contact_id,
            "segment_id": segment.id,
            "query_id": query.id,
            "mention_id": mention_id,
            "alert_id": alert.id,
            "media_id": asset.id,
            "webhook_id": endpoint.id,
            "recurring_id": recurring.id,
            "experiment_id": experiment.id,
            "ugc_request_id": ugc_request.id,
            "rule_id": rule.id,
            "ab_test_id": ab_test.id,
            "report_schedule_id": report_schedule.id,
        }

    def connect_body(self) -> ChannelConnect:
        account = self.network.add_account(f"brand_{secrets.token_hex(3)}")
        return ChannelConnect(
            network=self.network.name,
            credentials=ChannelCredentialsIn(**credentials_for(account)),
        )


class Matrix:
    """What the module's tests share: one connection in a transaction rolled back at the end
    of the module, the worlds built in it once each (building one costs far more than a
    request), and a savepoint per test, rolled back after it, so every test starts from the
    same worlds whatever the tests before it did (deleted, renamed, revoked)."""

    def __init__(self, connection: Connection, worlds: Worlds) -> None:
        self.connection = connection
        self.worlds = worlds
        self.seeds: dict[tuple[Role, bool, str | None, int], Seed] = {}
        self.savepoint: Any = None
        self.wrote = False  # whether the running test has written (see :meth:`seed`)
        event.listen(connection, "before_cursor_execute", self._watch)

    def _watch(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            self.wrote = True

    def begin_test(self) -> None:
        self.savepoint = self.connection.begin_nested()
        self.wrote = False

    def end_test(self) -> None:
        assert self.savepoint is not None and self.savepoint.is_active, "savepoint lost"
        self.savepoint.rollback()
        self.savepoint = None
        for path, content in self.worlds.files.items():
            if not path.exists():  # a test deleted the media item (after its commit)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)

    def seed(
        self, db: Session, role: Role, superuser: bool, key: tuple[str, str] | None, n: int
    ) -> Seed:
        """The ``n``-th world of this kind a test asks for, built the first time outside the
        test's savepoint (which must not have written yet: worlds come first in a test)."""
        variant = (
            "history" if key in NEEDS_HISTORY else "campaign" if key in NEEDS_CAMPAIGN else None
        )
        found = self.seeds.get((role, superuser, variant, n))
        if found is not None:
            return found
        if self.wrote or db.new or db.dirty or db.deleted:
            raise RuntimeError("ask for the worlds before the test writes anything")
        db.rollback()  # its savepoint (if any) is inside the test's, about to go
        self.savepoint.rollback()
        with Session(
            bind=self.connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        ) as seed_db:
            found = self.worlds.build(seed_db, role, superuser=superuser, key=key)
            seed_db.commit()  # into the module's transaction
        self.seeds[(role, superuser, variant, n)] = found
        self.begin_test()
        return found


@pytest.fixture(scope="module")
def matrix(engine: Engine, settings: Settings) -> Iterator[Matrix]:
    connection = engine.connect()
    transaction = connection.begin()
    worlds = Worlds(
        FakeNetwork("fakenet"), CredentialCipher.from_settings(settings), settings.data_dir
    )
    try:
        yield Matrix(connection, worlds)
    finally:
        transaction.rollback()
        connection.close()


@pytest.fixture
def connection(matrix: Matrix) -> Iterator[Connection]:
    """The module's connection, in a savepoint of this test (the conftest's ``db``, ``ctx``
    and ``session_factory`` work in it)."""
    matrix.begin_test()
    try:
        yield matrix.connection
    finally:
        matrix.end_test()


class WorldsView:
    """``worlds(role)`` in a test: the module's world of that kind (the second one asked for
    by the same test is another world), its people loaded in the test's session."""

    def __init__(self, matrix: Matrix, db: Session, key: tuple[str, str] | None) -> None:
        self.matrix, self.db, self.key = matrix, db, key
        self.asked: dict[tuple[Role, bool], int] = {}

    def __call__(self, role: Role, *, superuser: bool = False) -> World:
        n = self.asked.get((role, superuser), 0)
        self.asked[(role, superuser)] = n + 1
        seed = self.matrix.seed(self.db, role, superuser, self.key, n)
        owner, caller = self.db.get(User, seed.owner_id), self.db.get(User, seed.caller_id)
        assert owner is not None and caller is not None
        return World(seed.workspace_id, owner, caller, seed.auth, seed.ids, seed.member_user_ids)


@pytest.fixture
def worlds(
    matrix: Matrix, db: Session, connection: Connection, request: pytest.FixtureRequest
) -> WorldsView:
    callspec = getattr(request.node, "callspec", None)
    return WorldsView(matrix, db, callspec.params.get("key") if callspec is not None else None)


@pytest.fixture(scope="module")
def app(matrix: Matrix, settings: Settings, engine: Engine) -> FastAPI:
    """The app, with the fake network and the sandbox installed, on the module's connection
    (its sessions' commits become savepoints inside the running test's)."""
    factory = sessionmaker(
        bind=matrix.connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    ctx = AppContext(settings, engine, factory, SystemClock(), providers=matrix.worlds.registry)
    return create_app(ctx)


@pytest.fixture(scope="module")
def api(app: FastAPI) -> Iterator[Api]:
    with TestClient(app) as client:
        yield Api(client)


# Every table holding a workspace's rows (found from the models, so a new domain's tables are
# covered as they appear), and those that hang off such a row without a workspace column.
WORKSPACE_TABLES: list[Table] = [
    t for t in Base.metadata.sorted_tables if "workspace_id" in t.c and t.name != "api_tokens"
]


def snapshot(db: Session, workspace_id: int, user_ids: list[int]) -> dict[str, Any]:
    """Everything a request could change about a workspace and its people, read afresh."""
    db.expire_all()
    ws = db.execute(select(Workspace.__table__).where(Workspace.id == workspace_id)).one_or_none()
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
    found: dict[str, Any] = {
        "workspace": tuple(ws) if ws is not None else None,
        "users": [tuple(u) for u in users],
        "tokens": [tuple(t) for t in tokens],
    }
    for table in WORKSPACE_TABLES:
        rows = db.execute(
            select(table).where(table.c.workspace_id == workspace_id).order_by(*table.primary_key)
        ).all()
        found[table.name] = sorted(repr(tuple(r)) for r in rows)
    children = {
        "conversation_tags": select(ConversationTag.__table__)
        .join(Conversation, Conversation.id == ConversationTag.conversation_id)
        .where(Conversation.workspace_id == workspace_id),
        "mention_matches": select(MentionMatch.__table__)
        .join(Mention, Mention.id == MentionMatch.mention_id)
        .where(Mention.workspace_id == workspace_id),
        "recurring_occurrences": select(RecurringOccurrence.__table__)
        .join(RecurringPost, RecurringPost.id == RecurringOccurrence.recurring_id)
        .where(RecurringPost.workspace_id == workspace_id),
        "ab_arms": select(AbArm.__table__)
        .join(AbTest, AbTest.id == AbArm.test_id)
        .where(AbTest.workspace_id == workspace_id),
    }
    for name, query in children.items():
        found[name] = sorted(repr(tuple(r)) for r in db.execute(query).all())
    return found


def send(api: Api, req: Req, auth: Auth | None) -> Any:
    kwargs: dict[str, Any] = {}
    if req.json is not None:
        kwargs["json"] = req.json
    if req.files is not None:
        kwargs["files"] = req.files
    if req.data is not None:
        kwargs["data"] = req.data
    if req.content is not None:
        kwargs["content"] = req.content
    if req.headers:
        kwargs["headers"] = dict(req.headers)
    return api.request(req.method, req.url, auth=auth, **kwargs)


def is_success(status: int) -> bool:
    return 200 <= status < 300


def assert_goes_through(case: Case, response: Any) -> None:
    """The request does what it asks: a success, or, for a route that needs a proof the
    table's request lacks (``Case.refused``), that same refusal whoever the caller."""
    if case.refused is not None:
        body = assert_problem(response, 401)
        assert body["code"] == case.refused, body
    else:
        assert is_success(response.status_code), (response.status_code, response.text)


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
        public = key in ROUTES and ROUTES[key].access is Access.PUBLIC
        if key[1].startswith("/api/v1/workspaces/{workspace_id}") or (
            "{workspace_id}" in key[1] and not public
        ):
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
    worlds: WorldsView,
) -> None:
    case = ROUTES[key]
    world = worlds(role)
    if case.access is Access.WORKSPACE:
        permission = permissions[key]
        assert permission is not None
        allowed = permission in MATRIX[role]
    else:
        allowed = case.access is not Access.SUPERUSER
    # What the request could change: read where it must change nothing (a refusal) only.
    before = None if allowed else snapshot(db, world.workspace_id, world.member_user_ids)

    response = send(api, case.build(world.ids), world.auth)

    if allowed:
        assert_goes_through(case, response)
    else:
        body = assert_problem(response, 403)
        assert body["code"] == "permission_denied"
        assert snapshot(db, world.workspace_id, world.member_user_ids) == before


def test_superuser_may_create_users(api: Api, db: Session, worlds: WorldsView) -> None:
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
def two_brands(db: Session, worlds: WorldsView) -> TwoBrands:
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


# Known bugs, reported to the owners of the code; strict, so a fix makes these fail loudly.
# Routes whose tenant check is known to be wrong (a strict xfail: fixing one fails the test
# until its row goes). Empty: keep it so for good.
TENANT_BUGS: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(k, marks=pytest.mark.xfail(reason=TENANT_BUGS[k], strict=True))
        if k in TENANT_BUGS
        else k
        for k in NESTED_KEYS
    ],
    ids=key_id,
)
def test_rows_of_b_are_not_found_through_workspace_a(
    api: Api, db: Session, two_brands: TwoBrands, key: tuple[str, str]
) -> None:
    """A's id in the path, the id of one of B's rows (member, channel, post, conversation,
    contact, segment, query, mention, media, webhook, recurring post) after it."""
    b = two_brands.b
    ids = dataclasses.replace(
        two_brands.a.ids, **{name: getattr(two_brands.b_ids, name) for name in ROW_IDS}
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
def test_unauthenticated(api: Api, db: Session, key: tuple[str, str], worlds: WorldsView) -> None:
    world = worlds(Role.owner)
    before = snapshot(db, world.workspace_id, world.member_user_ids)
    response = send(api, ROUTES[key].build(world.ids), None)
    if ROUTES[key].access is Access.PUBLIC:
        assert_goes_through(ROUTES[key], response)
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
    api: Api, permissions: Permissions, db: Session, key: tuple[str, str], worlds: WorldsView
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
        assert_goes_through(case, response)
    else:
        assert_problem(response, 403)
        assert snapshot(db, world.workspace_id, world.member_user_ids) == before


@pytest.mark.parametrize("key", KEYS, ids=key_id)
def test_admin_token_may_do_what_its_user_may(
    api: Api, db: Session, key: tuple[str, str], worlds: WorldsView
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
        assert_goes_through(ROUTES[key], response)


@pytest.mark.parametrize("key", WORKSPACE_KEYS, ids=key_id)
def test_token_restricted_to_a_cannot_reach_b(
    api: Api, db: Session, key: tuple[str, str], worlds: WorldsView
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
    api: Api, db: Session, worlds: WorldsView
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
    api: Api, db: Session, key: tuple[str, str], worlds: WorldsView
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


# --- the signed conversion webhook: a signature, never credentials ---------------------------


def _signed(secret: str, body: bytes, *, at: int | None = None) -> dict[str, str]:
    stamp = int(dt.datetime.now(dt.UTC).timestamp()) if at is None else at
    return {
        conversions.SIGNATURE_HEADER: conversions.sign(secret, body, stamp),
        "Content-Type": "application/json",
    }


def _hook_secret(ctx: AppContext, workspace_id: int) -> str:
    return conversions.webhook_secret(ctx.settings.secret_key.get_secret_value(), workspace_id)


def _conversions(db: Session, workspace_id: int) -> list[tuple[str, str]]:
    db.expire_all()
    return [
        (c.external_id, c.source)
        for c in db.scalars(
            select(Conversion)
            .where(Conversion.workspace_id == workspace_id)
            .order_by(Conversion.id)
        )
    ]


def test_conversion_webhook_accepts_the_shops_signature_without_credentials(
    api: Api, db: Session, ctx: AppContext, worlds: WorldsView
) -> None:
    world = worlds(Role.viewer)
    url = f"/api/v1/hooks/conversions/{world.workspace_id}"
    body = json.dumps({"order_id": "S-1", "value": "19.90"}).encode()
    headers = _signed(_hook_secret(ctx, world.workspace_id), body)

    response = api.post(url, content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["external_id"] == "S-1"
    # The same order again is stored once.
    assert api.post(url, content=body, headers=headers).status_code == 200
    assert _conversions(db, world.workspace_id) == [("S-1", "webhook")]


def test_conversion_webhook_refuses_what_its_secret_did_not_sign(
    api: Api, db: Session, ctx: AppContext, worlds: WorldsView
) -> None:
    """Whatever credentials come with it: a viewer's session, the owner's admin token."""
    a = worlds(Role.viewer)
    b = worlds(Role.owner)
    owner_token, _, _ = token_auth(db, a.owner, ["admin"])
    db.commit()
    url = f"/api/v1/hooks/conversions/{a.workspace_id}"
    secret = _hook_secret(ctx, a.workspace_id)
    body = json.dumps({"order_id": "S-2", "value": "5.00"}).encode()
    other = json.dumps({"order_id": "S-2", "value": "5000.00"}).encode()
    stale = int((dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)).timestamp())
    attempts = {
        "signature_missing": {"Content-Type": "application/json"},
        "signature_invalid": _signed(secret, other),  # the body was changed after signing
        "signature_expired": _signed(secret, body, at=stale),  # a replay
    }
    malformed = {conversions.SIGNATURE_HEADER: "v1=abc", "Content-Type": "application/json"}
    b_signed = _signed(_hook_secret(ctx, b.workspace_id), body)  # B's secret, A's address
    before = snapshot(db, a.workspace_id, a.member_user_ids)
    for auth in (None, a.auth, owner_token):
        for code, headers in [
            *attempts.items(),
            ("signature_invalid", malformed),
            ("signature_invalid", b_signed),
        ]:
            response = api.post(url, content=body, headers=headers, auth=auth)
            assert assert_problem(response, 401)["code"] == code
    assert snapshot(db, a.workspace_id, a.member_user_ids) == before
    assert _conversions(db, a.workspace_id) == []
    # A workspace that does not exist is not found, signed or not.
    missing = a.workspace_id + 10_000
    response = api.post(
        f"/api/v1/hooks/conversions/{missing}",
        content=body,
        headers=_signed(_hook_secret(ctx, missing), body),
    )
    assert_problem(response, 404)


# --- web sessions: CSRF on writes, expiry ---------------------------------------------------


@pytest.mark.parametrize(
    "key", [k for k in NON_PUBLIC_KEYS if ROUTES[k].build(Ids(1, 1, "", 1, "")).method != "GET"]
)
def test_cookie_writes_need_the_csrf_token(
    api: Api, db: Session, key: tuple[str, str], worlds: WorldsView
) -> None:
    world = worlds(Role.owner, superuser=True)
    cookie_only = Auth({"Cookie": world.auth.headers["Cookie"]})
    wrong = Auth({**world.auth.headers, "X-CSRF-Token": "forged"})
    before = snapshot(db, world.workspace_id, world.member_user_ids)
    for auth in (cookie_only, wrong):
        body = assert_problem(send(api, ROUTES[key].build(world.ids), auth), 403)
        assert body["code"] == "csrf_failed"
    assert snapshot(db, world.workspace_id, world.member_user_ids) == before


def test_expired_web_session_is_refused(api: Api, db: Session, worlds: WorldsView) -> None:
    world = worlds(Role.owner)
    assert api.get("/api/v1/me", auth=world.auth).status_code == 200
    db.execute(
        update(WebSession)
        .where(WebSession.user_id == world.caller.id)
        .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    )
    db.commit()
    assert_problem(api.get("/api/v1/me", auth=world.auth), 401)
