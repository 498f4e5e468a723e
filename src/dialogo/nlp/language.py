"""Language identification: Italian, English, or undetermined.

The model is py3langid's packaged naive-Bayes model (langid.py's method; the 0.4 model covers
142 languages, BSD licence), restricted to a handful of European languages so a Spanish or
French post comes out ``"und"`` instead of being forced into Italian or English. It is loaded
lazily, once per process. ``benchmarks/language.py`` compares it with lingua, langdetect and
langid.py on the same texts.
"""

from __future__ import annotations

import threading
from typing import Any, Final

from dialogo.nlp.text import clean, strip_urls

SUPPORTED: Final = ("it", "en")
UNDETERMINED: Final = "und"
# Languages the model may answer; anything but it/en maps to "und".
_CANDIDATES: Final = ["it", "en", "es", "fr", "de", "pt", "nl", "ro", "ca", "pl", "sv", "tr"]
_MIN_LETTERS: Final = 3
_MIN_CONFIDENCE: Final = 0.5

_lock = threading.Lock()
_identifier: Any = None


def _model() -> Any:
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                ident.set_languages(_CANDIDATES)
                _identifier = ident
    return _identifier


def normalise_code(code: str | None) -> str | None:
    """``"it-IT"`` → ``"it"``, ``"EN"`` → ``"en"``, other languages → ``"und"``, None → None."""
    if code is None:
        return None
    base = code.strip().lower().replace("_", "-").split("-", 1)[0]
    if not base:
        return None
    return base if base in SUPPORTED else UNDETERMINED


# Function words. "Strong" ones are frequent in one language and rare in the other and in the
# other candidates; "weak" ones are frequent but shared with other Romance languages ("la",
# "con", "non", "on"), so they only add to strong evidence. Words common to Italian and English
# ("a", "in", "me", "no", "so", "i") count for neither. When the evidence for one language is
# clear and the other has (almost) none, the model is not asked (about 90 % of the shared
# airline + SENTIPOLC tweets; see benchmarks/listening.py).
_IT_STRONG: Final = frozenset(
    str.split(
        "che di della delle degli dei dello gli sono è ho hai abbiamo avete hanno anche questo "
        "questa questi queste quello quella quelli quelle perché perchè però già più ancora "
        "sempre nel nella nei negli nelle sul sulla sui sugli alla alle allo agli dalla dalle "
        "dagli io noi voi loro grazie ciao tutto tutti tutte oggi essere stato stata fatto "
        "siamo sei fare ecco quando dove niente nessuno qualcuno adesso ora molto poi solo "
        "cosa così mai bene male qui fa va c'è vuoi voglio puoi può devo deve detto dopo "
        "senza ogni altro altra altri quindi invece cioè forse davvero quanto qualcosa nulla "
        "anni giorno domani ieri stasera nuovo nuova"
    )
)
# Elided Italian forms ("dell'Italia", "un'altra", "all'estero"): the part before the apostrophe.
_IT_ELIDED: Final = frozenset(["dell", "nell", "all", "dall", "sull", "quell", "un", "po"])
_IT_WEAK: Final = frozenset(
    str.split(
        "il lo la le un una uno del al ai dal per con tra fra non si mi ti ci vi ne se ma e da o"
    )
)
_EN_STRONG: Final = frozenset(
    str.split(
        "the and is are was were you your yours my of for with this that these those have has "
        "had been be just what how why thanks thank please would will could should they we our "
        "at an it not but get got can't don't i'm it's you're i've there their about when who "
        "from to if all can did does didn't doesn't isn't wasn't won't any out up off now than "
        "then them being which what's that's i'll we're they're he she his her him by as more "
        "very still after again over into only really know need want time today tomorrow help "
        "where never ever im dont cant"
    )
)
_EN_WEAK: Final = frozenset(["on", "do", "or"])


def quick_identify(words: list[str]) -> str | None:
    """``"it"`` or ``"en"`` from lower-cased tokens when the function words are clear, else
    None (the caller then asks the model). Strong words count 2, weak ones 1; a language wins
    with a strong word, a score of 3 or more, and at least four times the other's score (plus
    a margin of 3 when the other has any)."""
    si = wi = se = we = 0
    it_strong, en_strong, it_weak, en_weak = _IT_STRONG, _EN_STRONG, _IT_WEAK, _EN_WEAK
    for w in words:
        if w in it_strong:
            si += 1
        elif w in en_strong:
            se += 1
        elif w in it_weak:
            wi += 1
        elif w in en_weak:
            we += 1
        elif "'" in w or "’" in w:
            head = w.replace("’", "'").split("'", 1)[0]
            if head in _IT_ELIDED:
                si += 1
    it = 2 * si + wi
    en = 2 * se + we
    if si and it >= 3 and it >= 4 * en + (3 if en else 0):
        return "it"
    if se and en >= 3 and en >= 4 * it + (3 if it else 0):
        return "en"
    return None


# Words that say nothing about a topic, for term statistics (crisis view, topic clusters).
FUNCTION_WORDS: Final = _IT_STRONG | _IT_WEAK | _EN_STRONG | _EN_WEAK


def _letters(text: str) -> int:
    return sum(map(str.isalpha, text))


def identify(text: object) -> tuple[str, float]:
    """Return ``(language, confidence)``; language is ``"it"``, ``"en"`` or ``"und"``."""
    body = strip_urls(clean(text))
    # Mentions and hashtags are names, not language.
    if "@" in body or "#" in body:
        body = " ".join(w for w in body.split() if w[:1] not in ("@", "#"))
    if _letters(body[:200]) < _MIN_LETTERS and _letters(body) < _MIN_LETTERS:
        return UNDETERMINED, 0.0
    lang, prob = _model().classify(body)
    prob = float(prob)
    if lang not in SUPPORTED or prob < _MIN_CONFIDENCE:
        return UNDETERMINED, prob
    return str(lang), prob
