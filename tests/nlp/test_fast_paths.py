"""The faster forms of the cues give the same answers as the patterns they are built from."""

import csv
import re
from pathlib import Path

import pytest

from dialogo.nlp import analyse, analyse_many, cues
from dialogo.nlp.text import TOKEN_RE, word_runs

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


# Texts where the tokens and the runs of word characters part ways, or nearly: emoticons with
# letters (":D", ":p", "<3" split a run), apostrophes, tags, names, underscores, digits and
# word characters outside ASCII (a circled digit is a word character, an emoji is not).
EDGES = [
    "",
    "ok",
    ":dog :D :p :-p :o) <3 <30 x:d 8) xD",
    "don't l’azienda rock'n'roll ''quoted'' it's",
    "#tag ##double @name@other a#b a@b.com #don't @o'neil",
    "snake_case _lead trail_ __ 1st 2nd 3.14 ➀➁ ①",
    "😀😀 🇮🇹 text😀text ❤️ ☺",
    "Perché è così? CIAO Ÿ ß İstanbul ǅ",
    "\x00\x01 control \x7f chars",
    "https://example.com/a_b?x=1 www.site.it words",
    "e\u0301 composed",
    "\ud800 lone",
]


def _shared_texts() -> list[str]:
    if not all(p.exists() for p in SHARED):
        return []
    return [r["text"] for p in SHARED for r in csv.DictReader(p.open(encoding="utf-8"))]


def test_the_word_runs_of_the_tokens_are_the_texts_runs_of_word_characters() -> None:
    shared = _shared_texts()
    given = 0
    for i, text in enumerate(EDGES + shared):
        low = text.lower()
        runs = word_runs(TOKEN_RE.findall(low))
        if runs is not None:
            given += i >= len(EDGES)
            assert runs == re.findall(r"\w+", low), text
    # The shortcut serves nearly every tweet (None only where an emoticon holds a letter); the
    # edge cases are chosen to be hard, so the share is only asked of the real tweets.
    assert given > 0.95 * len(shared) or not shared


def test_analyse_many_hands_out_the_lowered_text_and_tokens_only_where_unchanged() -> None:
    texts = [*EDGES, *EDGES[:3], b"bytes", None, "a" * 6_000]
    normalised: list[tuple[str, list[str]] | None] = []
    assert analyse_many(texts, normalised=normalised) == [analyse(t) for t in texts]  # type: ignore[arg-type]
    assert len(normalised) == len(texts)
    for text, norm in zip(texts, normalised, strict=True):
        if norm is None:
            continue
        assert isinstance(text, str)
        assert norm == (text.lower(), TOKEN_RE.findall(text.lower())), text
    kept = {t for t, n in zip(texts, normalised, strict=True) if n is not None}
    # Cleaned (control characters, lone surrogates, too long) or URL-stripped: not handed out.
    assert not kept & {EDGES[8], EDGES[9], EDGES[11], "a" * 6_000}
    assert {EDGES[1], EDGES[2], EDGES[7]} <= kept


def test_the_batched_language_model_agrees_with_py3langid() -> None:
    """identify_many scores a batch in numpy: each text's answer is the one it gets alone, and
    the language py3langid's own classify gives (the confidence within float32 rounding)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from dialogo.nlp import language

    reference = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    reference.set_languages(language._CANDIDATES)

    def classify(text: object) -> tuple[str, float]:
        body = language._model_text(text)
        if body is None:
            return "und", 0.0
        lang, prob = reference.classify(body)
        ok = lang in language.SUPPORTED and prob >= language._MIN_CONFIDENCE
        return (lang if ok else "und"), float(prob)

    shared = _shared_texts()[::3]  # a third of the tweets
    texts = [*EDGES, "Hola, ¿cómo estás?", "Bonjour à tous", "#only @names", *shared]
    batch = language.identify_many(texts)
    assert batch == [language.identify(t) for t in texts]
    expected = [classify(t) for t in texts]
    assert [lang for lang, _ in batch] == [lang for lang, _ in expected]
    assert max(abs(a - b) for (_, a), (_, b) in zip(batch, expected, strict=True)) < 1e-5
    assert {lang for lang, _ in batch} == {"it", "en", "und"} or not shared
