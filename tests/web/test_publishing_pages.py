"""The publishing pages through the app (TestClient): composer with live validation, drafts,
scheduling, approvals with comments (audited), duplication, campaigns, the health page and its
API twin. Two fake networks are installed: ``fakenet`` (280 characters) and ``shortnet`` (20)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import AuditEntry, User, Workspace
from dialogo.accounts.permissions import Role
from dialogo.accounts.schemas import TokenCreate
from dialogo.channels import service as channels
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.channels.schemas import ChannelConnect, ChannelCredentialsIn
from dialogo.core.context import AppContext
from dialogo.providers.errors import Disconnected
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeNetwork, credentials_for
from dialogo.publishing.models import Campaign, Post, PostApproval, PostVariant
from dialogo.server import create_app
from dialogo.web import templating
from tests.api.conftest import token_auth
from tests.factories import add_member
from tests.web.conftest import Browser

TOO_LONG = "Un caffè speciale per voi, oggi e domani"  # 40 characters: over shortnet's 20


@pytest.fixture
def networks() -> tuple[FakeNetwork, FakeNetwork]:
    return FakeNetwork("fakenet"), FakeNetwork("shortnet", text_limit=20)


@pytest.fixture
def registry(networks: tuple[FakeNetwork, FakeNetwork]) -> ProviderRegistry:
    return ProviderRegistry({n.name: n.provider_class() for n in networks})


@pytest.fixture
def app(ctx: AppContext, registry: ProviderRegistry) -> FastAPI:
    return create_app(dataclasses.replace(ctx, providers=registry))


@dataclasses.dataclass
class Two:
    long: Channel
    short: Channel


@pytest.fixture
def chans(
    db: Session,
    owner: User,
    workspace: Workspace,
    ctx: AppContext,
    networks: tuple[FakeNetwork, FakeNetwork],
    registry: ProviderRegistry,
) -> Two:
    found = []
    for network in networks:
        account = network.add_account(f"caffe_{network.name}")
        found.append(
            channels.connect_channel(
                db,
                accounts.Principal.for_user(owner),
                workspace.id,
                ChannelConnect(
                    network=network.name,
                    name=f"Aurora {network.name}",
                    credentials=ChannelCredentialsIn(**credentials_for(account)),
                ),
                registry=registry,
                cipher=CredentialCipher.from_settings(ctx.settings),
            )
        )
    db.commit()
    return Two(*found)


def tomorrow() -> str:
    return (dt.date.today() + dt.timedelta(days=2)).isoformat()


def compose_form(chans: Two, text: str, *, short: bool = True, **extra: str) -> dict[str, object]:
    chosen = [str(chans.long.id)] + ([str(chans.short.id)] if short else [])
    return {
        "channel": chosen,
        f"text-{chans.long.id}": "Buongiorno da Caffè Aurora!",
        f"text-{chans.short.id}": text,
        **extra,
    }


def posts_in(db: Session, workspace: Workspace) -> list[Post]:
    db.expire_all()
    return list(db.scalars(select(Post).where(Post.workspace_id == workspace.id)))


def test_the_nav_links_to_publishing(signed_in: Browser, workspace: Workspace) -> None:
    r = signed_in.get(f"/w/{workspace.id}/publishing")
    assert r.status_code == 200, r.text
    assert f'<a href="/w/{workspace.id}/publishing" aria-current="page">Publishing' in r.text
    assert "No post is waiting for approval." in r.text


def test_live_check_reports_each_networks_rule(
    signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    r = signed_in.htmx(f"/w/{workspace.id}/publishing/check", compose_form(chans, TOO_LONG))
    assert r.status_code == 200, r.text
    short = re.search(rf'<li id="check-{chans.short.id}".*?</li>\s*</ul>', r.text, re.S)
    assert short and "40 characters, 20 allowed" in short.group(0)
    assert re.search(rf'id="check-{chans.long.id}" class="check check-ok"', r.text)
    fixed = signed_in.htmx(f"/w/{workspace.id}/publishing/check", compose_form(chans, "Ciao!"))
    assert "allowed" not in fixed.text
    assert fixed.text.count("check-ok") == 2


#: fakenet's refusal (dialogo.providers.testing) and an Italian wording of it, put in the
#: catalogue by the test (the test double's texts are not the localiser's).
TOO_LONG_TEMPLATE = "%(length)s characters, %(text_limit)s allowed"
TOO_LONG_ITALIAN = "%(length)s caratteri: ne sono ammessi %(text_limit)s"


@pytest.fixture
def italian(signed_in: Browser, monkeypatch: pytest.MonkeyPatch) -> Browser:
    catalogue = templating.tr("it").catalogue.__dict__["_catalog"]
    monkeypatch.setitem(catalogue, TOO_LONG_TEMPLATE, TOO_LONG_ITALIAN)
    signed_in.post("/language", {"language": "it", "next": "/"})
    return signed_in


def test_the_checks_speak_italian(
    db: Session, italian: Browser, workspace: Workspace, chans: Two
) -> None:
    r = italian.htmx(f"/w/{workspace.id}/publishing/check", compose_form(chans, TOO_LONG))
    assert r.status_code == 200, r.text
    short = re.search(rf'<li id="check-{chans.short.id}".*?</li>\s*</ul>', r.text, re.S)
    assert short and "40 caratteri: ne sono ammessi 20" in short.group(0)
    assert "allowed" not in r.text
    # A long text: the numbers are written the Italian way too.
    long = italian.htmx(f"/w/{workspace.id}/publishing/check", compose_form(chans, "x" * 1234))
    assert "1.234 caratteri: ne sono ammessi 20" in long.text
    # The server-side check when scheduling says the same.
    refused = italian.post(
        f"/w/{workspace.id}/publishing/posts",
        {
            **compose_form(chans, TOO_LONG),
            "action": "schedule",
            "date": tomorrow(),
            "time": "10:00",
        },
    )
    assert refused.status_code == 422, refused.text
    assert "40 caratteri: ne sono ammessi 20" in refused.text and "allowed" not in refused.text
    assert posts_in(db, workspace)[0].status == "draft"


def test_a_refused_schedule_keeps_the_draft_and_says_why(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/posts",
        compose_form(chans, TOO_LONG, action="schedule", date=tomorrow(), time="10:00"),
    )
    assert r.status_code == 422, r.text
    assert "The draft is saved, but:" in r.text
    assert "40 characters, 20 allowed" in r.text  # the network's verdict, by channel
    [post] = posts_in(db, workspace)
    assert post.status == "draft"
    assert {v.text for v in post.variants} == {TOO_LONG, "Buongiorno da Caffè Aurora!"}
    assert f'value="{tomorrow()}"' in r.text  # what was typed is kept

    r = signed_in.post(
        f"/w/{workspace.id}/publishing/posts/{post.id}",
        compose_form(chans, "Ciao!", action="schedule", date="2001-01-01", time="10:00"),
    )
    assert r.status_code == 422
    assert "Choose a moment in the future." in r.text
    assert posts_in(db, workspace)[0].status == "draft"


def test_bad_composer_input_is_refused_with_what_was_typed(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/posts",
        {f"text-{chans.long.id}": "kept text", "action": "save"},
    )
    assert r.status_code == 422
    assert "Choose at least one channel." in r.text and "kept text" in r.text
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/posts",
        {"channel": [str(chans.long.id)], f"text-{chans.long.id}": "x" * 100_001},
    )
    assert r.status_code == 422 and "too long" in r.text
    assert posts_in(db, workspace) == []


def test_staged_approvals_with_comments_are_audited(
    db: Session, signed_in: Browser, owner: User, workspace: Workspace, chans: Two
) -> None:
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/settings",
        {"approval_required": "on", "approval_stages": "editor\nclient\n"},
    )
    assert r.status_code == 303
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/posts", compose_form(chans, "Ciao!", action="submit")
    )
    assert r.status_code == 303, r.text
    [post] = posts_in(db, workspace)
    assert post.status == "pending_approval"

    listing = signed_in.get(f"/w/{workspace.id}/publishing")
    assert f'id="waiting-{post.id}"' in listing.text and "stage: editor" in listing.text

    # Scheduling before approval is refused, and the reason is said.
    r = signed_in.post(
        f"/w/{workspace.id}/publishing/posts/{post.id}",
        compose_form(chans, "Ciao!", action="schedule", date=tomorrow(), time="10:00"),
    )
    assert r.status_code == 409 and "needs the approvals" in r.text

    r = signed_in.post(f"/w/{workspace.id}/publishing/posts/{post.id}/reject", {"comment": "  "})
    assert r.status_code == 303
    assert "Say why" in signed_in.get(r.headers["location"]).text
    assert posts_in(db, workspace)[0].status == "pending_approval"

    for comment in ("Good for the editor", "Client agrees"):
        r = signed_in.post(
            f"/w/{workspace.id}/publishing/posts/{post.id}/approve",
            {"comment": comment, "next": f"/w/{workspace.id}/publishing"},
        )
        assert r.status_code == 303
        assert r.headers["location"] == f"/w/{workspace.id}/publishing"
    assert posts_in(db, workspace)[0].status == "approved"
    page = signed_in.get(f"/w/{workspace.id}/publishing/posts/{post.id}").text
    assert "Good for the editor" in page and "Client agrees" in page

    audited = db.scalars(
        select(AuditEntry).where(
            AuditEntry.workspace_id == workspace.id,
            AuditEntry.entity_type == PostApproval.__tablename__,
        )
    ).all()
    decisions = [(e.after or {}).get("decision") for e in audited]
    assert decisions == ["submitted", "approved", "approved"]
    assert all(e.actor_user_id == owner.id for e in audited)


def test_a_viewer_reads_but_cannot_compose_or_approve(
    db: Session,
    sign_in_as,  # type: ignore[no-untyped-def]
    owner: User,
    workspace: Workspace,
    chans: Two,
) -> None:
    viewer = add_member(db, workspace, owner, Role.viewer)
    db.commit()
    b = sign_in_as(viewer)
    assert b.get(f"/w/{workspace.id}/publishing").status_code == 200
    assert b.get(f"/w/{workspace.id}/publishing/new").status_code == 403
    r = b.post(f"/w/{workspace.id}/publishing/posts", compose_form(chans, "x", action="save"))
    assert r.status_code == 403
    assert posts_in(db, workspace) == []


def test_duplicate_a_past_post(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    signed_in.post(
        f"/w/{workspace.id}/publishing/posts", compose_form(chans, "Ciao!", action="save")
    )
    [post] = posts_in(db, workspace)
    r = signed_in.post(f"/w/{workspace.id}/publishing/posts/{post.id}/duplicate")
    assert r.status_code == 303
    copy = max(posts_in(db, workspace), key=lambda p: p.id)
    assert copy.duplicated_from_id == post.id and copy.status == "draft"
    assert sorted(v.text for v in copy.variants) == sorted(v.text for v in post.variants)
    assert r.headers["location"].endswith(f"/posts/{copy.id}")


def test_campaigns_create_edit_and_filter_posts(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    base = f"/w/{workspace.id}/publishing/campaigns"
    r = signed_in.post(
        base,
        {
            "name": "Autunno",
            "goal": "More visits",
            "starts_on": "2030-09-01",
            "ends_on": "2030-11-30",
            "budget": "1500,50",
            "currency": "eur",
            "utm_source": "social",
            "utm_campaign": "autunno",
        },
    )
    assert r.status_code == 303, r.text
    db.expire_all()
    campaign = db.scalars(select(Campaign).where(Campaign.workspace_id == workspace.id)).one()
    assert str(campaign.budget) == "1500.50" and campaign.currency == "EUR"
    assert campaign.utm == {"utm_source": "social", "utm_campaign": "autunno"}

    # Bad input: each field says what is wrong, and nothing changes.
    r = signed_in.post(
        f"{base}/{campaign.id}",
        {"name": "Autunno", "budget": "lots", "starts_on": "2030-09-01", "ends_on": "2030-01-01"},
    )
    assert r.status_code == 422 and "at most two decimals" in r.text
    r = signed_in.post(
        f"{base}/{campaign.id}",
        {"name": "Autunno", "starts_on": "2030-09-01", "ends_on": "2030-01-01"},
    )
    assert r.status_code == 422 and "The end is before the start." in r.text
    signed_in.post(base, {"name": "Inverno"})
    r = signed_in.post(f"{base}/{campaign.id}", {"name": "Inverno"})
    assert r.status_code == 409 and "exists already" in r.text
    db.expire_all()
    assert db.get(Campaign, campaign.id).name == "Autunno"  # type: ignore[union-attr]

    r = signed_in.post(f"{base}/{campaign.id}", {"name": "Autunno 2030", "goal": "Visits"})
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Campaign, campaign.id).name == "Autunno 2030"  # type: ignore[union-attr]

    signed_in.post(
        f"/w/{workspace.id}/publishing/posts",
        compose_form(chans, "In campagna", campaign=str(campaign.id), action="save"),
    )
    signed_in.post(
        f"/w/{workspace.id}/publishing/posts", compose_form(chans, "Fuori", action="save")
    )
    listing = signed_in.get(f"/w/{workspace.id}/publishing?campaign={campaign.id}").text
    assert listing.count('<tr id="post-') == 1
    assert "Autunno 2030" in signed_in.get(base).text


def test_health_page_and_api_show_what_needs_a_person(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two, owner: User
) -> None:
    signed_in.post(
        f"/w/{workspace.id}/publishing/posts", compose_form(chans, "Ciao!", action="save")
    )
    [post] = posts_in(db, workspace)
    failed, stuck = post.variants
    failed.status, failed.last_error = "failed", "the network refused the post: duplicate"
    failed.updated_at = dt.datetime.now(dt.UTC)
    stuck.status, stuck.due_at = "queued", dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    chans.short.status, chans.short.status_reason = (
        ChannelStatus.reauth_required.value,
        "invalid or revoked access token",
    )
    db.commit()
    page = signed_in.get(f"/w/{workspace.id}/publishing/health")
    assert page.status_code == 200, page.text
    html = page.text
    assert "No worker is running" in html
    assert "the network refused the post: duplicate" in html
    assert re.search(r'id="stuck-title">Stuck posts <small>\(1\)', html)
    assert "invalid or revoked access token" in html

    token, _ = accounts.create_api_token(
        db,
        accounts.Principal.for_user(owner),
        TokenCreate.model_validate({"name": "health", "scopes": ["read"]}),
    )
    db.commit()
    api = signed_in.client.get(
        f"/api/v1/workspaces/{workspace.id}/publishing/health",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 200, api.text
    body = api.json()
    assert [f["reason"] for f in body["failed"]] == ["the network refused the post: duplicate"]
    assert [s["variant_id"] for s in body["stuck"]] == [stuck.id]
    assert body["channels"][0]["status"] == "reauth_required"
    assert body["alive_workers"] == 0


def test_channel_reasons_are_worded_by_their_error_type_in_italian(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two, owner: User
) -> None:
    # Flagged by a provider error: its type is kept and worded; the network's text follows.
    channels.flag_channel(db, chans.short, Disconnected("shortnet: account suspended"))
    # Flagged before the type was kept: the stored text is shown as it is.
    chans.long.status, chans.long.status_reason = (
        ChannelStatus.reauth_required.value,
        "an older reason",
    )
    db.commit()
    assert chans.short.status_code == "disconnected"
    signed_in.post("/language", {"language": "it", "next": "/"})
    worded = (
        "l&#39;account non è più disponibile sulla rete — dettagli: shortnet: account suspended"
    )
    health = signed_in.get(f"/w/{workspace.id}/publishing/health").text
    assert f"Scollegato — {worded}" in health
    assert "Da autorizzare di nuovo — an older reason" in health
    listed = signed_in.get(f"/w/{workspace.id}/channels").text
    assert f'<small class="reason">{worded}</small>' in listed
    assert '<small class="reason">an older reason</small>' in listed
    auth, _, _ = token_auth(db, owner, ["read"])
    db.commit()
    api = signed_in.client.get(
        f"/api/v1/workspaces/{workspace.id}/publishing/health", headers=auth.headers
    )
    assert [(c["name"], c["code"], c["reason"]) for c in api.json()["channels"]] == [
        (chans.long.name, None, "an older reason"),
        (chans.short.name, "disconnected", "shortnet: account suspended"),
    ]


def test_post_reasons_are_worded_by_their_error_type_in_italian(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two, owner: User
) -> None:
    """A variant's last error is worded from its type in the reader's language (a provider
    error's phrase, or the dispatcher's own sentence with its numbers), the network's own
    text as a detail; the API keeps the English text and adds the type."""
    signed_in.post(
        f"/w/{workspace.id}/publishing/posts", compose_form(chans, "Ciao!", action="save")
    )
    [post] = posts_in(db, workspace)
    refused, exhausted = post.variants
    now = dt.datetime.now(dt.UTC)
    refused.status, refused.updated_at = "failed", now
    refused.last_error = "shortnet: link not allowed"
    refused.last_error_code = "invalid_payload"
    refused.last_error_params = {"detail": "shortnet: link not allowed"}
    exhausted.status, exhausted.updated_at = "failed", now
    exhausted.last_error = "gave up after 8 attempts: 503"
    exhausted.last_error_code = "attempts_exhausted"
    exhausted.last_error_params = {"attempts": 8, "error": "transient", "detail": "503"}
    post.status = "failed"
    db.commit()
    signed_in.post("/language", {"language": "it", "next": "/"})
    worded = "la rete ha rifiutato il contenuto — dettagli: shortnet: link not allowed"
    # the dispatcher's sentence (the localiser's to translate) around an Italian reason
    gave_up = ": la rete ha avuto un problema temporaneo — dettagli: 503"
    health = signed_in.get(f"/w/{workspace.id}/publishing/health").text
    assert f"<td>{worded}</td>" in health
    assert gave_up in health
    assert "shortnet: link not allowed</td>" in health and "<td>shortnet:" not in health
    page = signed_in.get(f"/w/{workspace.id}/publishing/posts/{post.id}").text
    assert f'<small class="reason">{worded}</small>' in page
    assert gave_up in page
    auth, _, _ = token_auth(db, owner, ["read"])
    db.commit()
    api = signed_in.client.get(
        f"/api/v1/workspaces/{workspace.id}/publishing/health", headers=auth.headers
    ).json()
    assert sorted(
        (f["reason"], f["last_error_code"], f["last_error_params"]) for f in api["failed"]
    ) == [
        ("gave up after 8 attempts: 503", "attempts_exhausted", exhausted.last_error_params),
        ("shortnet: link not allowed", "invalid_payload", refused.last_error_params),
    ]
    detail = signed_in.client.get(
        f"/api/v1/workspaces/{workspace.id}/posts/{post.id}", headers=auth.headers
    ).json()
    assert sorted((v["last_error"], v["last_error_code"]) for v in detail["variants"]) == [
        ("gave up after 8 attempts: 503", "attempts_exhausted"),
        ("shortnet: link not allowed", "invalid_payload"),
    ]


def test_variants_outside_the_workspace_are_not_reported(
    db: Session, signed_in: Browser, workspace: Workspace, chans: Two
) -> None:
    assert db.scalars(select(PostVariant)).all() == []
    r = signed_in.get(f"/w/{workspace.id}/publishing/health")
    assert "No post failed." in r.text and "No post is late." in r.text


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


def test_media_from_the_library_is_picked_and_checked_live(
    db: Session, signed_in: Browser, owner: User, workspace: Workspace, chans: Two, ctx: AppContext
) -> None:
    from dialogo.publishing import media as media_library

    asset = media_library.upload(
        db,
        accounts.Principal.for_user(owner),
        workspace.id,
        PNG,
        filename="cappuccino.png",
        data_dir=ctx.settings.data_dir,
        alt_text="A cappuccino with a heart",
    )
    db.commit()
    page = signed_in.get(f"/w/{workspace.id}/publishing/new")
    assert f'name="media-{chans.long.id}" value="{asset.id}"' in page.text
    assert "cappuccino.png" in page.text and "A cappuccino with a heart" in page.text
    form = compose_form(chans, "Ciao!", short=False)
    # The picked references reach the network's checks: a forged one is named as unknown.
    form[f"media-{chans.long.id}"] = [str(asset.id), "cappuccino"]
    r = signed_in.htmx(f"/w/{workspace.id}/publishing/check", form)
    assert "&#39;cappuccino&#39; is not a media library id" in r.text
    form[f"media-{chans.long.id}"] = [str(asset.id)]
    r = signed_in.htmx(f"/w/{workspace.id}/publishing/check", form)
    assert "not a media library id" not in r.text
    r = signed_in.post(f"/w/{workspace.id}/publishing/posts", {**form, "action": "save"})
    assert r.status_code == 303
    [post] = posts_in(db, workspace)
    assert post.variants[0].media == [str(asset.id)]
    again = signed_in.get(r.headers["location"]).text
    assert f'value="{asset.id}" checked' in again


def test_add_to_the_queue_takes_the_next_common_slot(
    db: Session, signed_in: Browser, owner: User, workspace: Workspace, chans: Two
) -> None:
    from zoneinfo import ZoneInfo

    from dialogo.publishing import slots

    form = compose_form(chans, "Ciao!", action="queue")
    r = signed_in.post(f"/w/{workspace.id}/publishing/posts", form)
    assert r.status_code == 409 and "No free queue slot" in r.text
    [post] = posts_in(db, workspace)
    assert post.status == "draft"  # kept

    for channel in (chans.long, chans.short):
        slots.set_slots(
            db,
            accounts.Principal.for_user(owner),
            workspace.id,
            channel.id,
            [slots.SlotIn(weekday=d, local_time="08:15") for d in range(7)],
        )
    db.commit()
    r = signed_in.post(f"/w/{workspace.id}/publishing/posts/{post.id}", form)
    assert r.status_code == 303, r.text
    [post] = posts_in(db, workspace)
    assert post.status == "scheduled"
    local = post.scheduled_at.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(workspace.timezone))
    assert local.strftime("%H:%M") == "08:15"
    assert "Added to the queue" in signed_in.get(r.headers["location"]).text
