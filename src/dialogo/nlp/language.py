"""Language identification: Italian, English, or undetermined.

The model is py3langid's packaged naive-Bayes model (langid.py's method; the 0.4 model covers
142 languages, BSD licence), restricted to a handful of European languages so a Spanish or
French post comes out ``"und"`` instead of being forced into Italian or English. It is loaded
lazily, once per process. ``benchmarks/language.py`` compares it with lingua, langdetect and
langid.py on the same texts. :func:`identify_many` asks it about a batch at once (what
``analyse_many`` does with the posts the function words leave unsure).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from dialogo.nlp.text import clean, strip_urls

SUPPORTED: Final = ("it", "en")
UNDETERMINED: Final = "und"
# Languages the model may answer; anything but it/en maps to "und".
_CANDIDATES: Final = ["it", "en", "es", "fr", "de", "pt", "nl", "ro", "ca", "pl", "sv", "tr"]
_MIN_LETTERS: Final = 3
_MIN_CONFIDENCE: Final = 0.5

_lock = threading.Lock()
_identifier: tuple[Any, Any, Any] | None = None


def _model() -> Any:
    return _tables()[0]


def _tables() -> tuple[Any, Any, Any]:
    """py3langid's identifier restricted to the candidates, its feature × language weights
    as float32 (the packaged float16, widened once) and its language priors."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                ident.set_languages(_CANDIDATES)
                if ident._alias_pairs:  # pragma: no cover - none among the candidates
                    raise RuntimeError("aliased language columns among the candidates")
                _identifier = (
                    ident,
                    np.ascontiguousarray(ident.nb_ptc, dtype=np.float32),
                    np.asarray(ident.nb_pc, dtype=np.float32),
                )
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


def _model_text(text: object) -> str | None:
    """What the model reads of ``text``: no URLs, mentions or hashtags (names, not language);
    None when fewer than three letters are left."""
    body = strip_urls(clean(text))
    if "@" in body or "#" in body:
        body = " ".join(w for w in body.split() if w[:1] not in ("@", "#"))
    if _letters(body[:200]) < _MIN_LETTERS and _letters(body) < _MIN_LETTERS:
        return None
    return body


def identify(text: object) -> tuple[str, float]:
    """Return ``(language, confidence)``; language is ``"it"``, ``"en"`` or ``"und"``."""
    return identify_many([text])[0]


def identify_many(texts: Sequence[object]) -> list[tuple[str, float]]:
    """:func:`identify` over a batch, in order, each result the same as alone.

    py3langid's own ``classify`` per text: its byte n-gram walk (``visit_counts``), then the
    naive-Bayes scores and their normalisation, here for the whole batch at once in numpy (one
    gather of the features' rows and a segment sum per text instead of some twenty small numpy
    calls per text). Each text's sums run over its own features in py3langid's order, so a
    text's result does not depend on the rest of the batch; against py3langid's classify the
    languages agree on all 17,658 airline + SENTIPOLC tweets and the confidences differ by at
    most 3e-6 (float32 sums in another order; tests/nlp/test_fast_paths.py)."""
    from py3langid.langid import visit_counts

    model, table, prior = _tables()
    out: list[tuple[str, float]] = [(UNDETERMINED, 0.0)] * len(texts)
    which: list[int] = []
    lengths: list[int] = []
    features: list[int] = []
    counts: list[int] = []
    starts: list[int] = []
    nextmove, rowbase, output = model.tk_nextmove, model._rowbase, model.tk_output
    encode = model._encode
    for i, text in enumerate(texts):
        body = _model_text(text)
        if body is None:
            continue
        data = encode(body)
        visits = visit_counts(nextmove, rowbase, output, data)
        which.append(i)
        lengths.append(len(data))
        starts.append(len(features))
        if visits:
            features += visits
            counts += visits.values()
    if not which:
        return out
    scores = np.zeros((len(which), len(prior)), dtype=np.float32)  # featureless: uniform
    begin = np.asarray(starts, dtype=np.intp)
    has = np.diff(np.append(begin, len(features))) > 0
    if features:
        weights = np.log1p(np.asarray(counts, dtype=np.float32))[:, None]
        rows = weights * table[np.asarray(features, dtype=np.intp)]
        scores[has] = np.add.reduceat(rows, begin[has], axis=0) + prior
    # py3langid's normalisation: a temperature of sqrt(bytes), then a softmax.
    scores *= (1.0 / np.sqrt(np.maximum(np.asarray(lengths, dtype=np.float64), 1.0)))[
        :, None
    ].astype(np.float32)
    np.exp(scores - scores.max(axis=1, keepdims=True), out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    best = scores.argmax(axis=1)
    labels = model.nb_classes
    for k, i in enumerate(which):
        lang, prob = labels[int(best[k])], float(scores[k, best[k]])
        out[i] = (
            (UNDETERMINED, prob)
            if lang not in SUPPORTED or prob < _MIN_CONFIDENCE
            else (str(lang), prob)
        )
    return out
