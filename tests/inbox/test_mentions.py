"""Teammate mentions in internal notes: resolved to members, stored with the note, a personal
notification for each mentioned member, seen only by them; non-members stay plain text."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.accounts.schemas import MemberAdd
from dialogo.accounts.service import Principal
from dialogo.core.context import AppContext
from dialogo.core.errors import NotFound, PermissionDenied
from dialogo.inbox import ingest, mentions
from dialogo.inbox import service as inbox
from dialogo.inbox.models import Conversation
from dialogo.notifications import service as notifications
from dialogo.notifications.models import Notification
from dialogo.providers.registry import ProviderRegistry
from dialogo.server import create_app
from tests.api.conftest import Api, assert_problem, token_auth
from tests.factories import make_user, make_workspace
from tests.inbox.conftest import Brand, InboxNetwork, keyword_analyser

# --- the pure part ------------------------------------------------------------------------------


def test_handles_ambiguity_punctuation_and_emails() -> None:
    handles = mentions.directory(
        [
            (1, "giulia@example.org", "Giulia Rossi"),
            (2, "marco@example.org", "Marco"),
            (3, "marco@other.example", "Marco Bianchi"),  # shares "marco" with user 2
        ]
    )
    assert handles["giulia"] == 1 and handles["giuliarossi"] == 1
    assert "marco" not in handles and handles["marcobianchi"] == 3
    text = "@Giulia. ask @marco, @MarcoBianchi and @nobody; mail me at a@giulia or @giulia again"
    assert mentions.find(text, handles) == [
        {"user_id": 1, "text": "giulia"},
        {"user_id": 3, "text": "marcobianchi"},
    ]
    parts = mentions.segments(text, mentions.find(text, handles))
    assert "".join(p.text for p in parts) == text  # nothing is lost
    assert [(p.text, p.user_id) for p in parts if p.user_id] == [
        ("@Giulia", 1),
        ("@MarcoBianchi", 3),
        ("@giulia", 1),
    ]
    assert mentions.segments("no mentions", []) == [mentions.Segment("no mentions")]


# --- notes and notifications --------------------------------------------------------------------


def member(db: Session, workspace: Workspace, owner: User, email: str, role: Role) -> User:
    user = make_user(db, email=email)
    accounts.add_member(
        db, Principal.for_user(owner), workspace.id, MemberAdd(email=user.email, role=role)
    )
    return user


def conversation(db: Session, brand: Brand, network: InboxNetwork) -> Conversation:
    m = network.message("where is my order?", conversation_id="t-1")
    ingest.store_messages(db, brand.channel, [m], analyser=keyword_analyser)
    return db.scalars(select(Conversation).where(Conversation.thread_key == "t-1")).one()


@dataclasses.dataclass
class Team:
    agent: User
    viewer: User
    other_agent: User
    outsider: User  # a member of another workspace only
    conversation: Conversation


@pytest.fixture
def team(db: Session, brand: Brand, network: InboxNetwork) -> Team:
    agent = member(db, brand.workspace, brand.owner, "giulia@example.org", Role.agent)
    viewer = member(db, brand.workspace, brand.owner, "vera@example.org", Role.viewer)
    other = member(db, brand.workspace, brand.owner, "otto@example.org", Role.agent)
    outsider_owner = make_user(db, email="oscar@example.org")
    make_workspace(db, outsider_owner, name="Other brand")
    return Team(agent, viewer, other, outsider_owner, conversation(db, brand, network))


def test_mentions_are_stored_and_notify_each_mentioned_member(
    db: Session, brand: Brand, team: Team
) -> None:
    note = inbox.add_note(
        db,
        Principal.for_user(team.agent),
        brand.id,
        team.conversation.id,
        "@vera can you look? @oscar too, and @giulia (me) and @ghost.",
    )
    # oscar is not a member here, ghost is nobody, the author is not notified of herself.
    assert note.mentions == [
        {"user_id": team.viewer.id, "text": "vera"},
        {"user_id": team.agent.id, "text": "giulia"},
    ]
    found = list(db.scalars(select(Notification).where(Notification.kind == "inbox_mention")))
    assert [(n.recipient_id, n.workspace_id) for n in found] == [(team.viewer.id, brand.id)]
    assert found[0].link == f"/w/{brand.id}/inbox/{team.conversation.id}#note-{note.id}"
    assert found[0].title == "Test User mentioned you in a note"  # the author's name
    assert "@vera can you look?" in found[0].body


def test_a_member_sees_their_own_and_the_teams_notifications_only(
    db: Session, brand: Brand, team: Team
) -> None:
    team_wide = notifications.notify(db, brand.id, kind="test", title="For everybody")
    inbox.add_note(
        db, brand.principal, brand.id, team.conversation.id, "@vera and @otto: please check"
    )
    for_viewer = db.scalars(
        select(Notification).where(Notification.recipient_id == team.viewer.id)
    ).one()
    for_otto = db.scalars(
        select(Notification).where(Notification.recipient_id == team.other_agent.id)
    ).one()

    def seen(user: User) -> set[int]:
        return {
            n.id for n in notifications.list_notifications(db, Principal.for_user(user), brand.id)
        }

    assert seen(team.viewer) == {team_wide.id, for_viewer.id}
    assert seen(team.other_agent) == {team_wide.id, for_otto.id}
    assert seen(brand.owner) == {team_wide.id}  # even the owner does not see personal ones
    assert seen(team.agent) == {team_wide.id}
    # Another member's personal notification does not exist for you, not even for the owner.
    with pytest.raises(NotFound):
        notifications.resolve(db, Principal.for_user(team.viewer), brand.id, for_otto.id)
    with pytest.raises(NotFound):
        notifications.resolve(db, brand.principal, brand.id, for_viewer.id)
    # A viewer may dismiss their own, but still not the team's.
    notifications.resolve(db, Principal.for_user(team.viewer), brand.id, for_viewer.id)
    with pytest.raises(PermissionDenied):
        notifications.resolve(db, Principal.for_user(team.viewer), brand.id, team_wide.id)
    assert seen(team.viewer) == {team_wide.id}
    assert seen(team.other_agent) == {team_wide.id, for_otto.id}


def test_mentions_do_not_cross_workspaces(
    db: Session, brand: Brand, team: Team, network: InboxNetwork
) -> None:
    # giulia is also a member of another brand: a note there notifies her there only.
    other_ws = make_workspace(db, team.outsider, name="Second brand")
    accounts.add_member(
        db,
        Principal.for_user(team.outsider),
        other_ws.id,
        MemberAdd(email=team.agent.email, role=Role.viewer),
    )
    inbox.add_note(db, brand.principal, brand.id, team.conversation.id, "@giulia look")
    mine = notifications.list_notifications(db, Principal.for_user(team.agent), brand.id)
    assert [n.kind for n in mine] == ["inbox_mention"]
    assert notifications.list_notifications(db, Principal.for_user(team.agent), other_ws.id) == []
    # The second brand's owner cannot reach the first brand's notification at all.
    with pytest.raises(NotFound):
        notifications.resolve(db, Principal.for_user(team.outsider), other_ws.id, mine[0].id)
    with pytest.raises(NotFound):  # not a member of the first brand
        notifications.list_notifications(db, Principal.for_user(team.outsider), brand.id)


def test_mentionable_members_have_unique_handles(db: Session, brand: Brand, team: Team) -> None:
    handles = [h for _, h in inbox.mentionable_members(db, brand.id)]
    assert {"giulia", "vera", "otto"} <= set(handles) and "oscar" not in handles
    assert handles == sorted(handles)


# --- through the API ----------------------------------------------------------------------------


@pytest.fixture
def api(ctx: AppContext, providers: ProviderRegistry) -> Iterator[Api]:
    with TestClient(create_app(dataclasses.replace(ctx, providers=providers))) as client:
        yield Api(client)


def test_mentions_through_the_api(api: Api, db: Session, brand: Brand, team: Team) -> None:
    owner, _, _ = token_auth(db, brand.owner, ["admin"])
    viewer, _, _ = token_auth(db, team.viewer, ["read", "write"])
    viewer_ro, _, _ = token_auth(db, team.viewer, ["read"])
    otto, _, _ = token_auth(db, team.other_agent, ["read", "write"])
    notifications.notify(db, brand.id, kind="test", title="For everybody")
    db.commit()
    base = f"/api/v1/workspaces/{brand.id}"
    url = f"{base}/conversations/{team.conversation.id}"
    made = api.post(f"{url}/notes", json={"body": "@vera please, not @nobody"}, auth=owner)
    assert made.status_code == 201, made.text
    assert made.json()["mentions"] == [{"user_id": team.viewer.id, "text": "vera"}]
    detail = api.get(url, auth=viewer).json()
    assert detail["notes"][0]["mentions"] == [{"user_id": team.viewer.id, "text": "vera"}]

    listed = api.get(f"{base}/notifications", auth=viewer).json()
    personal = [n for n in listed if n["recipient_id"] == team.viewer.id]
    assert len(listed) == 2 and len(personal) == 1 and personal[0]["kind"] == "inbox_mention"
    others = api.get(f"{base}/notifications", auth=otto).json()
    assert [n["title"] for n in others] == ["For everybody"]
    # Otto cannot dismiss (nor learn of) the viewer's notification; a read-only token of the
    # viewer cannot dismiss it either; the viewer can.
    nid = personal[0]["id"]
    assert_problem(api.post(f"{base}/notifications/{nid}/resolve", auth=otto), 404)
    assert_problem(api.post(f"{base}/notifications/{nid}/resolve", auth=viewer_ro), 403)
    done = api.post(f"{base}/notifications/{nid}/resolve", auth=viewer)
    assert done.status_code == 200 and done.json()["resolved_at"]
    assert len(api.get(f"{base}/notifications", auth=viewer).json()) == 1
    # Autocomplete: members by handle or name prefix; another brand's owner sees nothing here.
    found = api.get(f"{base}/inbox/mentionable", params={"q": "@ve"}, auth=otto).json()
    assert found == [{"user_id": team.viewer.id, "handle": "vera", "name": "Test User"}]
    outsider, _, _ = token_auth(db, team.outsider, ["admin"])
    db.commit()
    assert_problem(api.get(f"{base}/notifications", auth=outsider), 404)
    assert_problem(api.get(f"{base}/inbox/mentionable", auth=outsider), 404)
