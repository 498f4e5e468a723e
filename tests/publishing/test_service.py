"""Composer, campaigns, validation per channel, approvals, scheduling, cancelling, duplicating."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts import service as accounts
from dialogo.accounts.models import AuditEntry
from dialogo.accounts.permissions import Role
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import ChannelStatus
from dialogo.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dialogo.core.i18n import translator
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeNetwork
from dialogo.publishing import service as publishing
from dialogo.publishing.models import PostStatus, VariantStatus
from dialogo.publishing.schemas import (
    CampaignCreate,
    PostCreate,
    PostFilters,
    PostUpdate,
    PublishingSettingsIn,
    VariantIn,
)
from tests.factories import add_member, make_user, make_workspace
from tests.publishing.conftest import Brand, compose, connect, later


def test_a_draft_has_one_variant_per_channel_with_a_stable_idempotency_key(
    db: Session, brand: Brand
) -> None:
    post = compose(db, brand, "Hello")
    assert post.status == PostStatus.draft
    [variant] = post.variants
    assert variant.network == "fakenet" and variant.status == VariantStatus.draft
    key = variant.idempotency_key
    publishing.update_post(
        db,
        brand.principal,
        brand.id,
        post.id,
        PostUpdate(variants=[VariantIn(channel_id=brand.channel.id, text="Hello again")]),
    )
    assert [v.idempotency_key for v in post.variants] == [key]
    assert post.variants[0].text == "Hello again"


def test_channels_of_another_workspace_and_duplicates_are_refused(
    db: Session, brand: Brand
) -> None:
    stranger = make_user(db)
    other = make_workspace(db, stranger)
    with pytest.raises(InvalidInput) as caught:
        publishing.create_post(
            db,
            accounts.Principal.for_user(stranger),
            other.id,
            PostCreate(variants=[VariantIn(channel_id=brand.channel.id, text="x")]),
        )
    assert caught.value.code == "unknown_channel"
    with pytest.raises(ValueError, match="one variant per channel"):
        PostCreate(
            variants=[
                VariantIn(channel_id=brand.channel.id, text="a"),
                VariantIn(channel_id=brand.channel.id, text="b"),
            ]
        )


def test_permissions_follow_the_roles(db: Session, brand: Brand) -> None:
    post = compose(db, brand)
    viewer = accounts.Principal.for_user(add_member(db, brand.workspace, brand.owner, Role.viewer))
    editor = accounts.Principal.for_user(add_member(db, brand.workspace, brand.owner, Role.editor))
    approver = accounts.Principal.for_user(
        add_member(db, brand.workspace, brand.owner, Role.approver)
    )
    assert publishing.get_post(db, viewer, brand.id, post.id).id == post.id
    with pytest.raises(PermissionDenied):
        publishing.create_post(
            db, viewer, brand.id, PostCreate(variants=[VariantIn(channel_id=brand.channel.id)])
        )
    publishing.submit_post(db, editor, brand.id, post.id)
    with pytest.raises(PermissionDenied):
        publishing.approve_post(db, editor, brand.id, post.id)
    publishing.approve_post(db, approver, brand.id, post.id)
    with pytest.raises(PermissionDenied):
        publishing.cancel_post(db, editor, brand.id, post.id)
    stranger = accounts.Principal.for_user(make_user(db))
    with pytest.raises(NotFound):
        publishing.get_post(db, stranger, brand.id, post.id)


def test_staged_approvals_are_recorded_and_required_before_scheduling(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    publishing.update_settings(
        db,
        brand.principal,
        brand.id,
        PublishingSettingsIn(approval_required=True, approval_stages=["editor", "client"]),
    )
    post = compose(db, brand)
    with pytest.raises(Conflict, match="needs approval"):
        publishing.schedule_post(
            db, brand.principal, brand.id, post.id, later(), registry=providers, cipher=cipher
        )
    publishing.submit_post(db, brand.principal, brand.id, post.id, "please check")
    publishing.approve_post(db, brand.principal, brand.id, post.id, "fine by me")
    assert post.status == PostStatus.pending_approval and post.approval_step == 1
    with pytest.raises(Conflict):
        publishing.schedule_post(
            db, brand.principal, brand.id, post.id, later(), registry=providers, cipher=cipher
        )
    publishing.approve_post(db, brand.principal, brand.id, post.id, "ok for the client")
    assert post.status == PostStatus.approved
    publishing.schedule_post(
        db, brand.principal, brand.id, post.id, later(), registry=providers, cipher=cipher
    )
    assert post.status == PostStatus.scheduled
    approvals = publishing.list_approvals(db, post)
    assert [(a.stage, a.decision, a.comment) for a in approvals] == [
        ("editor", "submitted", "please check"),
        ("editor", "approved", "fine by me"),
        ("client", "approved", "ok for the client"),
    ]
    audited = db.scalars(select(AuditEntry).where(AuditEntry.entity_type == "post_approvals")).all()
    assert len(audited) == 3 and all(e.workspace_id == brand.id for e in audited)


def test_rejection_needs_a_comment_and_editing_withdraws_approval(
    db: Session, brand: Brand
) -> None:
    post = compose(db, brand)
    publishing.submit_post(db, brand.principal, brand.id, post.id)
    with pytest.raises(InvalidInput):
        publishing.reject_post(db, brand.principal, brand.id, post.id, "  ")
    publishing.reject_post(db, brand.principal, brand.id, post.id, "too formal")
    assert post.status == PostStatus.draft
    publishing.submit_post(db, brand.principal, brand.id, post.id)
    publishing.approve_post(db, brand.principal, brand.id, post.id)
    assert post.status == PostStatus.approved
    publishing.update_post(
        db,
        brand.principal,
        brand.id,
        post.id,
        PostUpdate(variants=[VariantIn(channel_id=brand.channel.id, text="changed")]),
    )
    assert post.status == PostStatus.draft and post.approval_step == 0


def test_schedule_needs_an_aware_future_time_and_valid_variants(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    post = compose(db, brand)
    naive = dt.datetime(2031, 1, 1, 9, 0)
    with pytest.raises(InvalidInput) as caught:
        publishing.schedule_post(
            db, brand.principal, brand.id, post.id, naive, registry=providers, cipher=cipher
        )
    assert caught.value.code == "naive_datetime"
    with pytest.raises(InvalidInput) as caught:
        publishing.schedule_post(
            db, brand.principal, brand.id, post.id, later(-1), registry=providers, cipher=cipher
        )
    assert caught.value.code == "in_the_past"
    too_long = compose(db, brand, "x" * 300)
    with pytest.raises(InvalidInput) as caught:
        publishing.schedule_post(
            db, brand.principal, brand.id, too_long.id, later(), registry=providers, cipher=cipher
        )
    assert caught.value.code == "validation_failed"
    assert caught.value.details["channels"][0]["issues"][0]["code"] == "too_long"
    rome = dt.timezone(dt.timedelta(hours=1))
    when = (later(60)).astimezone(rome)
    publishing.schedule_post(
        db, brand.principal, brand.id, post.id, when, registry=providers, cipher=cipher
    )
    assert post.scheduled_at == when.astimezone(dt.UTC)
    assert post.variants[0].status == VariantStatus.scheduled
    assert post.variants[0].due_at == when.astimezone(dt.UTC)


def test_validation_reports_issues_per_channel(
    db: Session,
    brand: Brand,
    other_network: FakeNetwork,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
) -> None:
    short = connect(
        db,
        brand.owner,
        brand.id,
        other_network,
        providers,
        cipher,
        other_network.add_account("aurora_short"),
    )
    post = compose(
        db, brand, "A text longer than twenty characters", channels=[brand.channel, short]
    )
    results = publishing.validate_post(
        db, brand.principal, brand.id, post.id, registry=providers, cipher=cipher
    )
    by_network = {r.network: r for r in results}
    assert by_network["fakenet"].ok and not by_network["fakenet"].issues
    assert not by_network["shortnet"].ok
    assert by_network["shortnet"].issues[0].code == "too_long"
    # A flagged channel and a network no longer installed are clear errors, not crashes.
    brand.channel.status = ChannelStatus.reauth_required.value
    brand.channel.status_reason = "token revoked"
    only_fake = ProviderRegistry({"fakenet": providers.get("fakenet")})
    results = publishing.validate_post(
        db, brand.principal, brand.id, post.id, registry=only_fake, cipher=cipher
    )
    codes = {r.network: [i.code for i in r.issues] for r in results}
    assert codes == {"fakenet": ["channel_needs_attention"], "shortnet": ["unknown_network"]}
    assert "token revoked" in results[0].issues[0].message
    # Flagged with its error type: worded by the type, the network's text as a detail.
    brand.channel.status_code = "reauth_required"
    [issue] = publishing.validate_post(
        db, brand.principal, brand.id, post.id, registry=only_fake, cipher=cipher
    )[0].issues
    assert "the network refused the credentials or they expired" in issue.message
    assert issue.message.endswith("details: token revoked")
    assert issue.render(translator("it").gettext).endswith(
        "va collegato di nuovo: la rete ha rifiutato le credenziali o sono scadute "
        "— dettagli: token revoked"
    )


def test_cancel_stops_what_has_not_gone_out(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    post = compose(db, brand)
    publishing.schedule_post(
        db, brand.principal, brand.id, post.id, later(), registry=providers, cipher=cipher
    )
    publishing.cancel_post(db, brand.principal, brand.id, post.id)
    assert post.status == PostStatus.cancelled
    assert post.variants[0].status == VariantStatus.cancelled
    publishing.cancel_post(db, brand.principal, brand.id, post.id)  # idempotent
    with pytest.raises(Conflict):
        publishing.update_post(db, brand.principal, brand.id, post.id, PostUpdate(campaign_id=None))


def test_duplicate_makes_a_new_draft_with_new_keys(db: Session, brand: Brand) -> None:
    campaign = publishing.create_campaign(
        db, brand.principal, brand.id, CampaignCreate(name="Autumn", goal="awareness")
    )
    post = publishing.create_post(
        db,
        brand.principal,
        brand.id,
        PostCreate(
            campaign_id=campaign.id,
            variants=[
                VariantIn(
                    channel_id=brand.channel.id, text="Hi", thread=["more"], first_comment="c"
                )
            ],
        ),
    )
    copy = publishing.duplicate_post(db, brand.principal, brand.id, post.id)
    assert copy.id != post.id and copy.duplicated_from_id == post.id
    assert copy.campaign_id == campaign.id and copy.status == PostStatus.draft
    [v] = copy.variants
    assert (v.text, v.thread, v.first_comment) == ("Hi", ["more"], "c")
    assert v.idempotency_key != post.variants[0].idempotency_key


def test_campaigns_and_list_filters(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    campaign = publishing.create_campaign(
        db,
        brand.principal,
        brand.id,
        CampaignCreate(
            name="Launch",
            budget="1500.50",  # type: ignore[arg-type]
            currency="EUR",
            utm={"utm_campaign": "launch"},
        ),
    )
    with pytest.raises(Conflict):
        publishing.create_campaign(db, brand.principal, brand.id, CampaignCreate(name="Launch"))
    assert [c.name for c in publishing.list_campaigns(db, brand.principal, brand.id)] == ["Launch"]
    in_campaign = publishing.create_post(
        db,
        brand.principal,
        brand.id,
        PostCreate(campaign_id=campaign.id, variants=[VariantIn(channel_id=brand.channel.id)]),
    )
    scheduled = compose(db, brand, "soon")
    publishing.schedule_post(
        db, brand.principal, brand.id, scheduled.id, later(60), registry=providers, cipher=cipher
    )

    def ids(**kw: object) -> list[int]:
        return [
            p.id
            for p in publishing.list_posts(db, brand.principal, brand.id, PostFilters(**kw))  # type: ignore[arg-type]
        ]

    assert ids(campaign_id=campaign.id) == [in_campaign.id]
    assert ids(status=PostStatus.scheduled) == [scheduled.id]
    assert set(ids(channel_id=brand.channel.id)) == {in_campaign.id, scheduled.id}
    assert ids(scheduled_from=later(30), scheduled_to=later(90)) == [scheduled.id]
    assert ids(scheduled_from=later(120)) == []
