"""What the bulk ingest stores is what the ORM would: every analysed field, each mention's own
times, converted values shared between rows (flags, the batch's time, topics) not mixed up."""

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.listening import parallel, service
from dialogo.listening.models import Mention, MentionSource
from dialogo.listening.query import prepare
from dialogo.nlp import analyse, analyse_many
from tests.listening.conftest import Brand

T0 = dt.datetime(2026, 1, 20, 10, tzinfo=dt.UTC)

TEXTS = [
    "Why is my refund still not here? #acme",
    "Il pacco è in ritardo da una settimana, vergogna",
    "Great flight, the crew was lovely",
    "",
    "Qualcuno sa come si fa il reso?",
    "the delivery was late and the price too high #delay #price",
    "the delivery was late and the price too high",
    "ok",
]


def test_stored_values_equal_the_analysis_and_the_input(db: Session, brand: Brand) -> None:
    items = [
        service.Incoming(
            channel="import",
            remote_id=f"v{i}",
            text=t,
            # Distinct times, two equal ones, and one given in another time zone.
            posted_at=(T0 + dt.timedelta(minutes=i // 2)).astimezone(
                dt.timezone(dt.timedelta(hours=2)) if i == 3 else dt.UTC
            ),
        )
        for i, t in enumerate(TEXTS)
    ]
    result = service.ingest(db, brand.id, items, source=MentionSource.file, keep_unmatched=True)
    assert result.stored == len(TEXTS)
    db.expire_all()
    stored = {
        m.remote_id: m for m in db.scalars(select(Mention).where(Mention.workspace_id == brand.id))
    }
    ingested = {m.ingested_at for m in stored.values()}
    assert len(ingested) == 1
    for i, text in enumerate(TEXTS):
        m = stored[f"v{i}"]
        a = analyse(text)
        assert m.text == text
        assert (m.language, m.sentiment, m.label) == (a.language, a.sentiment, a.label), text
        assert (m.is_question, m.is_complaint) == (a.is_question, a.is_complaint), text
        assert m.topics == list(a.topics), text
        assert m.emotions is None
        posted = m.posted_at if m.posted_at.tzinfo else m.posted_at.replace(tzinfo=dt.UTC)
        assert posted == T0 + dt.timedelta(minutes=i // 2), text


def test_a_pending_mention_of_the_session_counts_as_stored(db: Session, brand: Brand) -> None:
    db.add(
        Mention(
            workspace_id=brand.id,
            channel="import",
            remote_id="pending",
            source=MentionSource.file.value,
            text="added through the ORM, not flushed yet",
            posted_at=T0,
            ingested_at=T0,
            language="en",
            sentiment=0.0,
            label="neutral",
            is_question=False,
            is_complaint=False,
            topics=[],
        )
    )
    item = service.Incoming(channel="import", remote_id="pending", text="again", posted_at=T0)
    result = service.ingest(db, brand.id, [item], source=MentionSource.file, keep_unmatched=True)
    assert (result.stored, result.duplicates) == (0, 1)


DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SHARED = [DATA / "airline_sentiment" / "train.csv", DATA / "sentipolc2016" / "train.csv"]


@pytest.mark.skipif(not all(p.exists() for p in SHARED), reason="../shared/data is absent")
def test_query_documents_from_the_shared_tokens_equal_prepare_on_the_shared_tweets() -> None:
    # Ingest builds each query document from analyse_many's lowered text and tokens where it
    # can: the document must be the one prepare() makes from the text, on every text.
    texts = [r["text"] for p in SHARED for r in csv.DictReader(p.open(encoding="utf-8"))]
    texts += ["", ":D <3 acme", "http://x.it a_b", "\x00 nul", "don't #tag @name"]
    normalised: list[tuple[str, list[str]] | None] = []
    analyses = analyse_many(texts, normalised=normalised)
    shared = 0
    for text, a, norm in zip(texts, analyses, normalised, strict=True):
        doc = parallel.document(text, a.language, "import", None, "@Who", norm)
        assert doc == prepare(text, lang=a.language, author="@Who", channels=["import"]), text
        shared += norm is not None
    assert shared > len(texts) // 2  # the shortcut is taken (texts with URLs are not)
