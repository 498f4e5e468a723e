import random

import pytest

from dialogo.nlp import Analysis, analyse
from dialogo.nlp.language import identify, normalise_code
from dialogo.nlp.sentiment import polarity


def _valid(a: Analysis) -> None:
    assert a.language in ("it", "en", "und")
    assert -1.0 <= a.sentiment <= 1.0
    assert a.label in ("negative", "neutral", "positive")
    assert (a.label == "positive") == (a.sentiment >= 0.05)
    assert (a.label == "negative") == (a.sentiment <= -0.05)
    assert isinstance(a.topics, tuple)
    assert all(isinstance(t, str) for t in a.topics)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Il servizio clienti non risponde da tre giorni, è una vergogna", "it"),
        ("Ho comprato il telefono ieri e sono davvero contento della batteria", "it"),
        ("My flight was cancelled and nobody at the gate could tell us anything", "en"),
        ("Thanks for the quick answer, the new app works really well", "en"),
        ("Hola, ¿cómo estás? Muy bien, gracias por preguntar", "und"),
        ("Je suis très content du service, merci beaucoup", "und"),
        ("", "und"),
        ("😀😀😀", "und"),
        ("12345 !!! ???", "und"),
    ],
)
def test_language(text: str, lang: str) -> None:
    assert analyse(text).language == lang
    assert identify(text)[0] == lang


def test_language_hint_skips_identification() -> None:
    assert analyse("ciao a tutti", language="en-GB").language == "en"
    assert analyse("hello there my friends", language="IT").language == "it"
    assert analyse("hello there my friends", language="es").language == "und"
    assert normalise_code("pt_BR") == "und"
    assert normalise_code("") is None


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I love this airline, the crew was wonderful 😍", "positive"),
        ("The worst customer service ever, absolutely terrible", "negative"),
        ("The flight leaves at 10 from gate 4", "neutral"),
        ("not bad at all", "positive"),
        ("It was not good", "negative"),
        ("Servizio ottimo, personale gentilissimo!", "positive"),
        ("Pessima esperienza, non lo consiglio", "negative"),
        ("Il treno parte alle 10 dal binario 4", "neutral"),
        ("Non è affatto male", "positive"),
        ("Non sono soddisfatta", "negative"),
        ("Bello il design ma la batteria fa schifo", "negative"),
        ("#fail", "negative"),
        ("👎👎", "negative"),
        ("❤️", "positive"),
    ],
)
def test_sentiment_labels(text: str, label: str) -> None:
    a = analyse(text)
    _valid(a)
    assert a.label == label, a


def test_boosters_and_exclamations_strengthen() -> None:
    assert polarity("good", "en") < polarity("very good", "en") < polarity("very good!!!", "en")
    assert polarity("buono", "it") < polarity("molto buono", "it")
    assert polarity("bad", "en") > polarity("really bad", "en")


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("How do I change my booking?", True),
        ("Qualcuno sa come cambiare la password", True),
        ("Come posso avere il rimborso?", True),
        ("Great trip, thanks", False),
        ("Link: https://example.com/?a=1", False),
    ],
)
def test_questions(text: str, question: bool) -> None:
    assert analyse(text).is_question is question


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("@acme my order still not delivered, I want a refund", True),
        ("Il modem non funziona da una settimana", True),
        ("Ancora in attesa del rimborso, vergogna", True),
        ("The app keeps crashing and customer service hung up on me", True),
        ("Lovely dinner tonight", False),
        ("Che bella giornata al mare", False),
    ],
)
def test_complaints(text: str, complaint: bool) -> None:
    assert analyse(text).is_complaint is complaint


def test_topics_and_hashtags() -> None:
    a = analyse("Prezzo troppo alto e consegna in ritardo #Delusione #delusione")
    assert "price" in a.topics
    assert "delivery" in a.topics
    assert "delay" in a.topics
    assert a.topics.count("#delusione") == 1
    assert analyse("My luggage was lost at the airport").topics == ("travel",)


def test_analysis_is_frozen() -> None:
    a = analyse("hello")
    with pytest.raises(AttributeError):
        a.label = "positive"  # type: ignore[misc]


HOSTILE = [
    "",
    " ",
    "\x00\x01\x02\x7f",
    "\ud800\udfff lone surrogates \udc80",
    "?",
    "😀" * 500,
    "🇮🇹🇬🇧👨‍👩‍👧‍👦",
    "مرحبا بالعالم こんにちは世界 Привет мир ciao mondo hello world",
    "a" * 1_000_000,
    "ciao " * 200_000,
    "'" * 10_000,
    "n't " * 1000,
    "not " * 1000 + "good",
    "!!!!!!!!!!!!!!!!!!",
    "#" * 100 + "@" * 100,
    "http://" + "x" * 10_000,
    "\u202e\u200b\ufeff\u0301\u0301",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_never_crashes(text: str) -> None:
    _valid(analyse(text))
    _valid(analyse(text, language="it"))
    _valid(analyse(text, language="zz-weird"))


def test_never_crashes_on_random_bytes_and_non_str() -> None:
    rng = random.Random(7)
    for _ in range(300):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 400)))
        _valid(analyse(raw.decode("utf-8", "surrogateescape")))
        _valid(analyse(raw.decode("latin-1")))
        _valid(analyse(raw))  # type: ignore[arg-type]
    _valid(analyse(None))  # type: ignore[arg-type]
    _valid(analyse(12345))  # type: ignore[arg-type]
