"""The faster forms of the cues give the same answers as the patterns they are built from."""

import csv
import re
from pathlib import Path

import pytest

from dialogo.nlp import analyse, analyse_many, cues

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SHARED = [DATA / "airline_sentiment" / "train.csv", DATA / "sentipolc2016" / "train.csv"]


def _phrases() -> list[str]:
    """Every literal run of the complaint pattern, alone, inside words and inside sentences."""
    words = re.findall(r"[a-zà-ù' ]{2,}", cues._COMPLAINT_RE.pattern.replace(r"\w", " "))
    out: list[str] = []
    for w in {w.strip() for w in words if w.strip()}:
        out += [w, f"so {w} today", f"x{w}", f"{w}x", f"#{w}", f"l'{w}", f"{w}s", w[:-1]]
    return out


def test_the_grouped_complaint_pattern_agrees_with_the_source() -> None:
    texts = [
        *_phrases(),
        "the app doesn't work",
        "it does not work",
        "not working",
        "rip off",
        "ripoff",
        "ripe off",
        "cancelled my flight",
        "canceled my flight",
        "non funziona più",
        "il treno è in ritardo",
        "pacco persa la speranza",
        "",
    ]
    assert len(texts) > 300
    for text in texts:
        low = text.lower()
        expected = cues._COMPLAINT_RE.search(low) is not None
        assert cues.has_complaint_cue(low) is expected, text


@pytest.mark.skipif(not all(p.exists() for p in SHARED), reason="../shared/data is absent")
def test_same_answers_on_the_shared_tweets() -> None:
    texts = [r["text"] for p in SHARED for r in csv.DictReader(p.open(encoding="utf-8"))]
    for text in texts:
        low = text.lower()
        assert cues.has_complaint_cue(low) is (cues._COMPLAINT_RE.search(low) is not None), text
    sample = texts[::7]
    assert analyse_many(sample) == [analyse(t) for t in sample]
