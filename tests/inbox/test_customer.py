"""The customer view: one person's history across channels, notes, tags, and sentiment over
time (the service, the pure chart, and the API operation)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Role
from dialogo.accounts.service import Principal
from dialogo.core.context import AppContext
from dialogo.core.errors import NotFound
from dialogo.inbox import customer, ingest
from dialogo.inbox import service as inbox
from dialogo.inbox.models import Conversation
from dialogo.providers.registry import ProviderRegistry
from dialogo.server import create_app
from tests.api.conftest import Api, Auth, assert_problem, token_auth
from tests.factories import add_member, make_user, make_workspace
from tests.inbox.conftest import START, Brand, InboxNetwork, keyword_analyser
from tests.publishing.conftest import connect


def _two_channel_history(
    db: Session, brand: Brand, network: InboxNetwork, providers: ProviderRegistry, cipher: object
) -> tuple[int, list[Conversation]]:
    """Olga writes on the brand's two channels; Pia writes once on the first."""
    shop = connect(
        db,
        brand.owner,
        brand.id,
        network,
        providers,
        cipher,  # type: ignore[arg-type]
        network.add_account("aurora_shop"),
    )
    first = network.message("love the new blend", author="olga", conversation_id="a")
    ingest.store_messages(db, brand.channel, [first], analyser=keyword_analyser)
    ingest.store_messages(
        db,
        brand.channel,
        [network.message("hi there", author="pia", conversation_id="p")],
        analyser=keyword_analyser,
    )
    later = network.message(
        "my grinder arrived broken",
        author="olga",
        conversation_id="b",
        at=START + dt.timedelta(days=2),
    )
    ingest.store_messages(db, shop, [later], analyser=keyword_analyser)
    convs = list(db.scalars(select(Conversation).where(Conversation.thread_key.in_(["a", "b"]))))
    assert len(convs) == 2 and convs[0].contact_id == convs[1].contact_id is not None
    contact_id = convs[0].contact_id
    assert contact_id is not None
    return contact_id, convs


def test_history_across_channels_with_notes_tags_and_sentiment(
    db: Session, brand: Brand, network: InboxNetwork, providers: ProviderRegistry, cipher: object
) -> None:
    contact_id, convs = _two_channel_history(db, brand, network, providers, cipher)
    by_key = {c.thread_key: c for c in convs}
    inbox.add_note(db, brand.principal, brand.id, by_key["a"].id, "regular, buys monthly")
    inbox.add_tag(db, brand.principal, brand.id, by_key["b"].id, "Refund")
    found = customer.customer_history(db, brand.principal, brand.id, contact_id)
    assert {i.handle for i in found.identities} == {"olga"}
    assert [c.thread_key for c in found.conversations] == ["b", "a"]  # most recent first
    assert {c.channel_id for c in found.conversations} == {brand.channel.id, by_key["b"].channel_id}
    assert [m.text for m in found.messages[by_key["a"].id]] == ["love the new blend"]
    assert [n.body for n in found.notes] == ["regular, buys monthly"]
    assert found.tags[by_key["b"].id] == ["refund"] and found.all_tags == ["refund"]
    # Pia's message is not in Olga's history, and the points are in time order
    assert [p.sentiment for p in found.sentiment] == [0.1, -0.8]
    assert found.average_sentiment == pytest.approx(-0.35)


def test_history_is_private_to_the_workspace(
    db: Session, brand: Brand, network: InboxNetwork, providers: ProviderRegistry, cipher: object
) -> None:
    contact_id, _ = _two_channel_history(db, brand, network, providers, cipher)
    stranger = make_user(db)
    other = make_workspace(db, stranger)
    with pytest.raises(NotFound):  # another workspace's contact id is unknown here
        customer.customer_history(db, Principal.for_user(stranger), other.id, contact_id)
    with pytest.raises(NotFound):  # a stranger learns nothing of the brand
        customer.customer_history(db, Principal.for_user(stranger), brand.id, contact_id)
    with pytest.raises(NotFound):
        customer.customer_history(db, brand.principal, brand.id, contact_id + 10_000)


def test_the_chart_places_points_by_time_and_sentiment() -> None:
    t0 = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    pts = [
        customer.SentimentPoint(t0, 1.0, 1),
        customer.SentimentPoint(t0 + dt.timedelta(hours=1), 0.0, 2),
        customer.SentimentPoint(t0 + dt.timedelta(hours=4), -1.0, 3),
        customer.SentimentPoint(t0 + dt.timedelta(hours=4), 5.0, 4),  # clamped to 1
    ]
    chart = customer.sentiment_chart(pts, width=108, height=48, pad=4)
    assert chart.points == [(4.0, 4.0), (29.0, 24.0), (104.0, 44.0), (104.0, 4.0)]
    assert chart.zero_y == 24.0
    assert chart.polyline.startswith("4.0,4.0 29.0,24.0")
    one = customer.sentiment_chart(pts[1:2], width=108, height=48, pad=4)
    assert one.points == [(54.0, 24.0)]
    assert customer.sentiment_chart([]).points == []


@pytest.fixture
def api(ctx: AppContext, providers: ProviderRegistry) -> Iterator[Api]:
    with TestClient(create_app(dataclasses.replace(ctx, providers=providers))) as client:
        yield Api(client)


def test_the_api_returns_the_history(
    api: Api,
    db: Session,
    brand: Brand,
    network: InboxNetwork,
    providers: ProviderRegistry,
    cipher: object,
) -> None:
    contact_id, _ = _two_channel_history(db, brand, network, providers, cipher)
    viewer = add_member(db, brand.workspace, brand.owner, Role.viewer)
    auth: Auth
    auth, _, _ = token_auth(db, viewer, ["read"])
    db.commit()
    url = f"/api/v1/workspaces/{brand.id}/contacts/{contact_id}/history"
    r = api.get(url, auth=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == contact_id and body["identities"][0]["handle"] == "olga"
    assert [len(c["messages"]) for c in body["conversations"]] == [1, 1]
    assert body["conversations"][0]["messages"][0]["text"] == "my grinder arrived broken"
    assert [p["sentiment"] for p in body["sentiment"]] == [0.1, -0.8]
    assert_problem(
        api.get(f"/api/v1/workspaces/{brand.id}/contacts/999999/history", auth=auth), 404
    )
