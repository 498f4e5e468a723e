"""The batch path gives exactly what the one-at-a-time path gives, and the cheap language check
only answers when it is sure."""

import pytest

from dialogo.nlp import analyse, analyse_many
from dialogo.nlp.language import quick_identify
from dialogo.nlp.sentiment import lexicons, score_tokens
from dialogo.nlp.text import tokens
from tests.nlp.test_analyse import HOSTILE

MIXED = [
    "Il servizio clienti non risponde da tre giorni, è una vergogna",
    "My flight was cancelled and nobody at the gate could tell us anything @united",
    "I am so fed up with this, but the crew was lovely",
    "Bello il design ma la batteria fa schifo #fail",
    "Grazie mille per l'assistenza!!!",
    "Hola, ¿cómo estás? Muy bien, gracias por preguntar",
    "ok",
    "Bello il design ma la batteria fa schifo #fail",  # repeated: analysed once, same answer
    *HOSTILE,
]


def test_analyse_many_equals_analyse() -> None:
    assert analyse_many(MIXED) == [analyse(t) for t in MIXED]
    hints = ["it", "en", None, "es", "IT-it", None, "en", "it"] + [None] * len(HOSTILE)
    assert analyse_many(MIXED, hints) == [analyse(t, h) for t, h in zip(MIXED, hints, strict=True)]
    assert analyse_many([]) == []
    assert analyse_many([b"\xff\xfe bytes", None, 42]) == [  # type: ignore[list-item]
        analyse(b"\xff\xfe bytes"),  # type: ignore[arg-type]
        analyse(None),  # type: ignore[arg-type]
        analyse(42),  # type: ignore[arg-type]
    ]


def test_analyse_many_refuses_mismatched_hints() -> None:
    with pytest.raises(ValueError, match="2 texts but 1 language hints"):
        analyse_many(["a", "b"], ["it"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("il pacco non è ancora arrivato, che vergogna", "it"),
        ("the package has not arrived yet, what a shame", "en"),
        ("ciao", None),  # one word: let the model decide
        ("Hola, ¿cómo estás? Muy bien, gracias por preguntar", None),
        ("Je suis très content du service, merci beaucoup", None),
        ("La casa de mi madre es muy bonita y la comida también", None),
        ("Eu gosto muito da comida e do serviço", None),
        ("Das ist nicht gut und die Bahn ist zu spät", None),
        ("my name is mario, sono di roma e parlo italiano", None),  # mixed: unsure
        # Words both languages use ("a", "in") count for neither.
        ("@united is the worst airline in the world, a joke", "en"),
        ("in vacanza dell'anno scorso, con amici", "it"),  # an elided article is Italian
        ("c'mon guys, all set", None),
    ],
)
def test_quick_identify_answers_only_when_sure(text: str, expected: str | None) -> None:
    assert quick_identify(tokens(text)) == expected


def test_bigrams_negation_and_contrast_survive_the_fast_scorer() -> None:
    en = lexicons().en
    it = lexicons().it
    assert score_tokens(tokens("i am fed up"), en) < -0.05  # a two-word entry
    assert score_tokens(tokens("fed"), en) == 0.0
    assert score_tokens(tokens("not good"), en) < 0 < score_tokens(tokens("good"), en)
    # The contrast halves what came before and strengthens what follows.
    mixed = score_tokens(tokens("great but terrible"), en)
    assert mixed < 0
    assert score_tokens(tokens("#great"), en) > 0
    assert score_tokens(tokens("l'ottimo"), it) > 0
    assert score_tokens(tokens("fa schifo"), it) < 0
    assert score_tokens([], en) == 0.0
