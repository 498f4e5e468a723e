"""Stored emotions (a model trained in the MultiEmotions-It format judges the Italian mentions;
nothing is claimed for the others) and the JSON API of the crisis view, the topic clusters and
the mentions to label next (active learning)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.core.config import Settings
from dialogo.core.context import AppContext
from dialogo.listening import service
from dialogo.listening.models import Mention, MentionSource
from dialogo.listening.schemas import QueryCreate
from dialogo.nlp import model as nlp_model
from dialogo.nlp.emotion import EmotionModel
from dialogo.providers.registry import ProviderRegistry
from dialogo.server import create_app
from tests.api.conftest import Api, Auth, assert_problem, token_auth
from tests.listening.conftest import Brand
from tests.listening.test_alert_email import JUDGED, NOW, _seed_spike
from tests.nlp.test_emotion import _tsv

T0 = dt.datetime(2026, 1, 20, 10, tzinfo=dt.UTC)
JOY = "la canzone che gioia sono felicissima"
ANGER = "lo spot mi fa arrabbiare sono furioso"
ENGLISH = "the flight was late again and the crew did not care"


@pytest.fixture(scope="module")
def emotion_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("emotions")
    data = nlp_model.read_file(_tsv(folder / "emo.tsv", random.Random(3)), "multiemotions")
    path = folder / "emo.joblib"
    nlp_model.train(data).save(path)
    return path


def _items(texts: list[str], prefix: str = "e") -> list[service.Incoming]:
    return [
        service.Incoming(channel="import", remote_id=f"{prefix}{i}", text=t, posted_at=T0)
        for i, t in enumerate(texts)
    ]


def _emotions(db: Session, workspace_id: int) -> dict[str, list[str] | None]:
    rows = db.execute(
        select(Mention.text, Mention.emotions).where(Mention.workspace_id == workspace_id)
    ).all()
    return {text: emotions for text, emotions in rows}


def test_ingest_stores_the_emotions_of_mentions_in_the_models_language(
    db: Session, brand: Brand, emotion_path: Path
) -> None:
    model = EmotionModel.load(emotion_path)
    assert model.language == "it"
    result = service.ingest(
        db,
        brand.id,
        _items([JOY, ANGER, ENGLISH]),
        source=MentionSource.file,
        keep_unmatched=True,
        emotion_model=model,
    )
    assert result.stored == 3
    stored = _emotions(db, brand.id)
    assert stored[JOY] is not None and "joy" in stored[JOY]
    assert stored[ANGER] == ["anger"]
    assert stored[ENGLISH] is None  # an Italian model says nothing about English


def test_mentions_stored_without_a_model_are_judged_later(
    db: Session, brand: Brand, emotion_path: Path
) -> None:
    service.ingest(
        db, brand.id, _items([JOY, ANGER, ENGLISH]), source=MentionSource.file, keep_unmatched=True
    )
    assert set(_emotions(db, brand.id).values()) == {None}
    model = EmotionModel.load(emotion_path)
    assert service.judge_emotions(db, brand.id, model, batch=1) == 2
    stored = _emotions(db, brand.id)
    assert stored[ANGER] == ["anger"] and stored[ENGLISH] is None
    assert service.judge_emotions(db, brand.id, model) == 0  # each mention judged once


def test_the_configured_model_is_loaded_once_and_a_bad_one_costs_only_the_emotions(
    tmp_path: Path, emotion_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert service.emotion_model_for(Settings(emotion_model=None)) is None
    first = service.emotion_model_for(Settings(emotion_model=emotion_path))
    assert (
        first is not None
        and service.emotion_model_for(Settings(emotion_model=emotion_path)) is first
    )
    junk = tmp_path / "junk.joblib"
    junk.write_bytes(b"not a model at all")
    with caplog.at_level(logging.WARNING, logger="dialogo.listening"):
        assert service.emotion_model_for(Settings(emotion_model=junk)) is None
        assert service.emotion_model_for(Settings(emotion_model=tmp_path / "none")) is None
    assert "no emotions" in caplog.text
    with pytest.raises(nlp_model.DataError, match="multiemotions"):
        EmotionModel(nlp_model.Model(format="airline", language="en", pipelines={}))
    assert EmotionModel.load(emotion_path).emotions([]) == []
    # Any text: empty, junk, emoji only.
    found = EmotionModel.load(emotion_path).emotions(["", "\x00\ud800", "😀😀"])
    assert len(found) == 3


# --- API ---------------------------------------------------------------------------------


@pytest.fixture
def emotion_ctx(ctx: AppContext, providers: ProviderRegistry, emotion_path: Path) -> AppContext:
    settings = ctx.settings.model_copy(update={"emotion_model": emotion_path})
    return dataclasses.replace(ctx, providers=providers, settings=settings)


@pytest.fixture
def api(emotion_ctx: AppContext) -> Iterator[Api]:
    with TestClient(create_app(emotion_ctx)) as client:
        yield Api(client)


@pytest.fixture
def auth(db: Session, brand: Brand) -> Auth:
    auth, _, _ = token_auth(db, brand.owner, ["admin"])
    db.commit()
    return auth


def test_intake_stores_emotions_and_the_mentions_show_them(
    api: Api, auth: Auth, brand: Brand
) -> None:
    base = f"/api/v1/workspaces/{brand.id}/listening"
    sent = api.post(
        f"{base}/intake",
        json=[
            {"id": "a", "text": ANGER, "posted_at": "2026-01-20T10:00:00Z"},
            {"id": "b", "text": ENGLISH, "posted_at": "2026-01-20T10:01:00Z"},
        ],
        auth=auth,
    )
    assert sent.status_code == 200, sent.text
    listed = {m["remote_id"]: m for m in api.get(f"{base}/mentions", auth=auth).json()}
    assert listed["a"]["emotions"] == ["anger"]
    assert listed["b"]["emotions"] is None


def test_crisis_view_as_json(api: Api, auth: Auth, db: Session, brand: Brand) -> None:
    _seed_spike(db, brand)
    raised = service.check_alerts(db, brand.id, now=NOW)
    volume = next(a for a in raised if a.kind == "volume")
    db.commit()
    base = f"/api/v1/workspaces/{brand.id}/listening"
    got = api.get(f"{base}/alerts/{volume.id}/crisis", auth=auth)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["alert"]["id"] == volume.id and body["query"]["name"] == "Acme"
    assert len(body["hours"]) == service.CRISIS_HOURS and body["weeks"] == 4
    last = body["hours"][-1]
    assert dt.datetime.fromisoformat(last["start"]) == JUDGED
    assert (last["volume"], last["negative"], last["expected"]) == (30, 30, 2.5)
    assert (body["window_volume"], body["baseline_volume"]) == (30, 10)
    assert body["window_negative_share"] == 1.0 and body["baseline_negative_share"] == 0.0
    assert {"refund", "terrible"} <= {t["key"] for t in body["terms"]}
    assert body["authors"][0] == {**body["authors"][0], "key": "angry", "count": 12}
    assert "billing" in [t["key"] for t in body["topics"]]
    assert len(body["mentions"]) == 30
    assert all(m["final_label"] == "negative" for m in body["mentions"])
    missing = api.get(f"{base}/alerts/{volume.id + 999}/crisis", auth=auth)
    assert assert_problem(missing, 404)["code"] == "alert_not_found"


DELIVERY = ["package never arrived", "courier lost my parcel", "delivery late again"]
COFFEE = ["espresso tastes great", "lovely espresso and cappuccino", "best cappuccino in town"]


def test_topic_clusters_as_json(
    api: Api, auth: Auth, db: Session, brand: Brand, emotion_ctx: AppContext
) -> None:
    rng = random.Random(1)
    now = emotion_ctx.clock.now()
    qid = service.add_query(db, brand.id, QueryCreate(name="Acme", query="acme")).id
    texts = [
        f"acme {rng.choice(pool)}, {rng.choice(pool)}"
        for _ in range(20)
        for pool in (DELIVERY, COFFEE)
    ]
    items = [
        service.Incoming(
            channel="import",
            remote_id=f"t{i}",
            text=t,
            posted_at=now - dt.timedelta(hours=i),
        )
        for i, t in enumerate(texts)
    ]
    service.ingest(db, brand.id, items, source=MentionSource.file, keep_unmatched=True)
    db.commit()
    base = f"/api/v1/workspaces/{brand.id}/listening"
    got = api.get(f"{base}/topics", params={"days": 7, "query_id": qid}, auth=auth)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["mentions"] == 40 and body["days"] == 7
    assert body["clusters"] and sum(c["size"] for c in body["clusters"]) <= 40
    labels = " ".join(c["label"] for c in body["clusters"])
    assert "espresso" in labels or "cappuccino" in labels
    for c in body["clusters"]:
        assert c["label"] == " · ".join(c["terms"]) and 1 <= len(c["examples"]) <= 3
        assert 0.0 <= c["negative_share"] <= 1.0 and -1.0 <= c["net"] <= 1.0
    assert {"name": "Acme", "kind": "brand", "mentions": 40} in body["names"]
    assert_problem(api.get(f"{base}/topics", params={"days": 0}, auth=auth), 422)
    gone = api.get(f"{base}/topics", params={"query_id": qid + 999}, auth=auth)
    assert assert_problem(gone, 404)["code"] == "query_not_found"


def test_label_requests_then_a_correction_leaves_the_queue(
    api: Api, auth: Auth, db: Session, brand: Brand
) -> None:
    base = f"/api/v1/workspaces/{brand.id}/listening"
    assert api.get(f"{base}/label-requests", auth=auth).json() == {
        "source": "lexicon",
        "items": [],
    }
    texts = [
        "acme is great",
        "acme is ok I guess",
        "acme is not bad but not good",
        "acme terrible",
        "acme fine",
        "acme",
    ]
    service.ingest(db, brand.id, _items(texts), source=MentionSource.file, keep_unmatched=True)
    db.commit()
    got = api.get(f"{base}/label-requests", params={"limit": 3}, auth=auth)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["source"] == "lexicon" and len(body["items"]) == 3
    uncertainty = [i["uncertainty"] for i in body["items"]]
    assert uncertainty == sorted(uncertainty, reverse=True)
    first = body["items"][0]
    assert first["suggestion"] in ("negative", "neutral", "positive")
    fixed = api.put(
        f"{base}/mentions/{first['mention']['id']}/label", json={"label": "positive"}, auth=auth
    )
    assert fixed.status_code == 200, fixed.text
    again = api.get(f"{base}/label-requests", params={"limit": 100}, auth=auth).json()
    ids = [i["mention"]["id"] for i in again["items"]]
    assert first["mention"]["id"] not in ids and len(ids) == len(texts) - 1
    assert_problem(api.get(f"{base}/label-requests", params={"limit": 0}, auth=auth), 422)
