"""The mentions to label next: by the lexicon at first, then by a model of the corrections;
a correction removes a mention from the requests and becomes a training row."""

import datetime as dt

from sqlalchemy.orm import Session

from dialogo.listening import service
from dialogo.listening.models import MentionSource
from tests.listening.conftest import Brand

T0 = dt.datetime(2026, 1, 20, 10, tzinfo=dt.UTC)
CLEAR = [
    "the best coffee, wonderful and lovely",
    "awful, terrible, the worst coffee ever",
]
UNSURE = "the coffee is ok I guess"


def _ingest(db: Session, brand: Brand, texts: list[str], start: int = 0) -> None:
    service.ingest(
        db,
        brand.id,
        [
            service.Incoming(
                channel="import",
                remote_id=str(start + i),
                text=t,
                posted_at=T0 + dt.timedelta(minutes=i),
            )
            for i, t in enumerate(texts)
        ],
        source=MentionSource.file,
        keep_unmatched=True,
    )


def test_lexicon_first_then_the_corrections_model(db: Session, brand: Brand) -> None:
    assert service.to_label(db, brand.principal, brand.id) == ([], "lexicon")
    _ingest(db, brand, CLEAR * 8 + [UNSURE])
    requests, source = service.to_label(db, brand.principal, brand.id, limit=3)
    assert source == "lexicon"
    assert requests[0].mention.text == UNSURE  # nearest to a label boundary
    assert requests[0].uncertainty > requests[-1].uncertainty or len(requests) == 1
    # Correct a dozen: the requests now come from a model of the corrections.
    mentions = service.list_mentions(db, brand.principal, brand.id, limit=50)
    corrected = 0
    for m in mentions:
        if m.text == UNSURE:
            continue
        label = "positive" if "best" in m.text else "negative"
        service.correct_label(db, brand.principal, brand.id, m.id, label)
        corrected += 1
        if corrected == 12:
            break
    assert len(service.training_rows(db, brand.id)) == 12
    _ingest(db, brand, ["lovely best coffee", "coffee, awful and lovely, best and worst"], 100)
    requests, source = service.to_label(db, brand.principal, brand.id, limit=10)
    assert source == "corrections"
    texts = [r.mention.text for r in requests]
    assert all(r.mention.corrected_label is None for r in requests)
    # The mixed one is less certain than the clear one.
    assert texts.index("coffee, awful and lovely, best and worst") < texts.index(
        "lovely best coffee"
    )
    clear = next(r for r in requests if r.mention.text == "lovely best coffee")
    assert clear.suggestion == "positive"
