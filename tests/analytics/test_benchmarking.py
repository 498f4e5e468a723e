"""Competitor benchmarking from listening: share of voice and sentiment per brand and
competitor query over the period, corrections counted, other kinds and old mentions left out."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy.orm import Session

from dialogo.analytics import benchmarking
from dialogo.listening.models import ListeningQuery, Mention, MentionMatch
from tests.analytics.conftest import Brand

NOW = dt.datetime(2026, 5, 31, 12, tzinfo=dt.UTC)
_ids = itertools.count()


def _query(db: Session, brand: Brand, name: str, kind: str) -> ListeningQuery:
    q = ListeningQuery(workspace_id=brand.id, name=name, query=name.lower(), kind=kind)
    db.add(q)
    db.flush()
    return q


def _mentions(
    db: Session, brand: Brand, query: ListeningQuery, labels: str, *, days_ago: int = 1
) -> None:
    for letter in labels:
        label = {"p": "positive", "n": "negative", "o": "neutral"}[letter]
        m = Mention(
            workspace_id=brand.id,
            channel="sandbox",
            remote_id=f"m{next(_ids)}",
            source="search",
            text=f"about {query.name}",
            posted_at=NOW - dt.timedelta(days=days_ago),
            language="it",
            sentiment={"positive": 0.6, "negative": -0.6, "neutral": 0.0}[label],
            label=label,
        )
        db.add(m)
        db.flush()
        db.add(MentionMatch(mention_id=m.id, query_id=query.id))
    db.flush()


def test_share_of_voice_and_sentiment(db: Session, brand: Brand) -> None:
    ours = _query(db, brand, "Caffè Aurora", "brand")
    rival = _query(db, brand, "Moka Nera", "competitor")
    topic = _query(db, brand, "espresso", "topic")
    _mentions(db, brand, ours, "ppppno")  # 6: 4 positive, 1 negative
    _mentions(db, brand, rival, "pnn")  # 3: 1 positive, 2 negative
    _mentions(db, brand, rival, "pppp", days_ago=60)  # outside the 30 days
    _mentions(db, brand, topic, "ppp")  # a topic, not a competitor
    rows = benchmarking.share_of_voice(db, brand.principal, brand.id, now=NOW)
    assert [r.name for r in rows] == ["Caffè Aurora", "Moka Nera"]
    a, b = rows
    assert (a.mentions, b.mentions) == (6, 3)
    assert a.share_of_voice == pytest.approx(6 / 9) and b.share_of_voice == pytest.approx(3 / 9)
    assert a.net_sentiment == pytest.approx(3 / 6) and b.net_sentiment == pytest.approx(-1 / 3)
    assert b.negative == pytest.approx(2 / 3)
    # A person's correction counts instead of the model's label.
    mention = (
        db.query(Mention)
        .filter(Mention.text == "about Moka Nera", Mention.label == "negative")
        .first()
    )
    assert mention is not None
    mention.corrected_label = "positive"
    db.flush()
    rows = benchmarking.share_of_voice(db, brand.principal, brand.id, now=NOW)
    assert rows[1].net_sentiment == pytest.approx(1 / 3)
    # A competitor without mentions is listed with nothing to divide.
    _query(db, brand, "Vesuvio", "competitor")
    rows = benchmarking.share_of_voice(db, brand.principal, brand.id, now=NOW)
    silent = next(r for r in rows if r.name == "Vesuvio")
    assert silent.mentions == 0 and silent.net_sentiment is None and silent.share_of_voice == 0
