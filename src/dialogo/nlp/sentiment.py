"""Lexicon-and-rules sentiment for English and Italian, fast and dependency-light.

English valences come from the VADER lexicon (Hutto & Gilbert 2014, MIT licence), read from the
``vaderSentiment`` package; Italian valences from ``data/it_sentiment.tsv``, written for this
project. The rules follow VADER's: boosters and dampeners shift a word's valence, a negation in
the three preceding tokens flips and damps it, a contrast word ("but", "ma", "però") halves what
came before and strengthens what follows, exclamation marks amplify, and the sum is normalised
to -1..1 with ``s / sqrt(s² + 15)``. It is a fast first pass; the trainable model in
:mod:`dialogo.nlp.model` does better where labelled data exists.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Final

from dialogo.nlp.text import clean, strip_urls, tokens

NEUTRAL_BAND: Final = 0.05
_ALPHA: Final = 15.0
_BOOST: Final = 0.293
_NEGATE: Final = -0.74


def _words(s: str) -> list[str]:
    return s.split()


_NEGATORS: Final = frozenset(
    _words(
        "not no never nobody nothing none neither nor cannot without nowhere "
        "dont doesnt didnt isnt wasnt arent werent wont cant couldnt shouldnt wouldnt aint hasnt "
        "havent hadnt "
        "non mai nessuno nessuna niente nulla senza né neanche nemmeno neppure"
    )
)
_BOOSTERS: Final = dict.fromkeys(
    _words(
        "very really so extremely absolutely totally incredibly super too most completely such "
        "utterly highly truly deeply entirely especially fucking "
        "molto davvero troppo veramente proprio estremamente assolutamente tanto così "
        "decisamente super tremendamente incredibilmente particolarmente"
    ),
    _BOOST,
)
_BOOSTERS.update(
    dict.fromkeys(
        _words(
            "slightly somewhat barely hardly kinda kindof marginally little "
            "poco leggermente abbastanza piuttosto"
        ),
        -_BOOST,
    )
)
_CONTRAST: Final = frozenset(_words("but however although though ma però tuttavia eppure"))

_EMOJI_OVERRIDES: Final = {
    "👍": 1.8,
    "👎": -1.8,
    "❤": 2.5,
    "💔": -2.2,
    "🙏": 1.0,
    "🤬": -3.0,
    "😡": -2.7,
    "😠": -2.3,
    "🤮": -2.8,
    "💩": -2.0,
    "🔥": 1.2,
    "👏": 2.0,
    "😍": 2.9,
    "😢": -2.0,
    "😭": -2.2,
    "😤": -1.8,
    "🙄": -1.3,
    "😒": -1.6,
    "😞": -2.0,
    "😊": 2.2,
    "🙂": 1.2,
    "😀": 2.0,
    "😃": 2.1,
    "😄": 2.2,
    "😁": 2.0,
    "😂": 1.0,
    "🤣": 1.2,
    "🥰": 2.8,
    "😘": 2.2,
    "💯": 1.6,
    "✅": 0.8,
    "❌": -1.0,
    "😱": -1.5,
    "😩": -2.0,
    "😫": -2.0,
    "🤦": -1.6,
    "😔": -1.7,
    "☹": -2.0,
    "🙁": -1.5,
    "<3": 1.9,
}


@dataclass(frozen=True, slots=True)
class Lexicons:
    en: dict[str, float]
    it: dict[str, float]
    shared: dict[str, float]  # emoji and emoticons, for every language
    both: dict[str, float]  # en ∪ it ∪ shared, for undetermined text


def _expand_it(word: str, cls: str) -> list[str]:
    if cls == "o" and word.endswith("o"):
        stem = word[:-1]
        return [word, stem + "a", stem + "i", stem + "e"]
    if cls == "e" and word.endswith("e"):
        return [word, word[:-1] + "i"]
    return [word]


def _load() -> Lexicons:
    vader_dir = resources.files("vaderSentiment")
    en: dict[str, float] = {}
    for line in (vader_dir / "vader_lexicon.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            en[parts[0].lower()] = float(parts[1])
    shared: dict[str, float] = {k: v for k, v in en.items() if not k[:1].isalnum()}
    # Emoji: the valence of their English description, as VADER does, then hand overrides.
    for line in (vader_dir / "emoji_utf8_lexicon.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and len(parts[0]) == 1:
            val = sum(en.get(w, 0.0) for w in parts[1].lower().split())
            if val:
                shared[parts[0]] = max(-3.5, min(3.5, val))
    shared.update(_EMOJI_OVERRIDES)
    it: dict[str, float] = {}
    text = (resources.files("dialogo.nlp") / "data" / "it_sentiment.tsv").read_text("utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        cls = parts[2] if len(parts) > 2 else ""
        for form in _expand_it(parts[0], cls):
            it[form] = float(parts[1])
    both = {**it, **en, **shared}
    return Lexicons(en={**en, **shared}, it={**it, **shared}, shared=shared, both=both)


_lock = threading.Lock()
_lexicons: Lexicons | None = None


def lexicons() -> Lexicons:
    global _lexicons
    if _lexicons is None:
        with _lock:
            if _lexicons is None:
                _lexicons = _load()
    return _lexicons


def _is_negator(tok: str) -> bool:
    return tok in _NEGATORS or tok.endswith("n't")


_heads_lock = threading.Lock()
_heads: dict[int, tuple[dict[str, float], frozenset[str], frozenset[str]]] = {}


def _bigram_heads(lexicon: dict[str, float]) -> tuple[frozenset[str], frozenset[str]]:
    """First words of the lexicon's two-word entries ("fed up", "fa schifo"), so the scorer
    looks a bigram up only after one of them; and every token the rules may act on as it is
    (an entry, a bigram head, a contrast word). Cached per lexicon object (the entry keeps the
    dict alive, so its id cannot be reused; the packaged lexicons are never changed)."""
    hit = _heads.get(id(lexicon))
    if hit is not None and hit[0] is lexicon:
        return hit[1], hit[2]
    heads = frozenset(k.split(" ", 1)[0] for k in lexicon if " " in k)
    acted_on = frozenset(lexicon) | heads | _CONTRAST
    with _heads_lock:
        if len(_heads) > 64:
            _heads.clear()
        _heads[id(lexicon)] = (lexicon, heads, acted_on)
    return heads, acted_on


def score_tokens(toks: list[str], lexicon: dict[str, float], exclamations: int = 0) -> float:
    """Compound score in -1..1 of lower-cased tokens against one lexicon.

    One pass of set look-ups over all tokens first (most tokens carry no valence and cost
    nothing more); the rules then run only at the tokens that may."""
    n = len(toks)
    if not n:
        return 0.0
    get = lexicon.get
    heads, acted_on = _bigram_heads(lexicon)
    contrast = _CONTRAST
    # The tokens the rules may act on: an entry, a bigram head or a contrast word as they are,
    # and (a superset of) "#tags" and elided words: any token with a character that is not a
    # letter or digit. The others carry nothing, whatever their neighbours.
    special = [i for i, tok in enumerate(toks) if tok in acted_on or not tok.isalnum()]
    if not special:
        return 0.0
    total_before = 0.0  # valence before the last contrast word
    total = 0.0
    skip = -1  # the second word of a matched bigram
    for i in special:
        if i == skip:
            continue
        tok = toks[i]
        if tok in contrast:
            total_before += total
            total = 0.0
            continue
        val = None
        if tok in heads and i + 1 < n:
            val = get(tok + " " + toks[i + 1])
            if val is not None:
                skip = i + 1
        if val is None:
            val = get(tok)
            if val is None and tok[0] == "#":
                val = get(tok[1:])
            if val is None and ("'" in tok or "’" in tok):
                # Italian elision ("l'assistenza", "un'esperienza"): score the word itself.
                val = get(tok.replace("’", "'").rsplit("'", 1)[-1])
        if val:
            for back in (1, 2):
                j = i - back
                if j >= 0:
                    b = _BOOSTERS.get(toks[j])
                    if b is not None:
                        val += b if val > 0 else -b
            if (
                (i >= 1 and _is_negator(toks[i - 1]))
                or (i >= 2 and _is_negator(toks[i - 2]))
                or (i >= 3 and _is_negator(toks[i - 3]))
            ):
                val *= _NEGATE
            total += val
    s = total_before * 0.5 + total * (1.5 if total_before else 1.0)
    if s and exclamations:
        s += math.copysign(min(exclamations, 4) * 0.292, s)
    if not s:
        return 0.0
    c = s / math.sqrt(s * s + _ALPHA)
    return max(-1.0, min(1.0, c))


def label_for(score: float) -> str:
    if score >= NEUTRAL_BAND:
        return "positive"
    if score <= -NEUTRAL_BAND:
        return "negative"
    return "neutral"


def lexicon_for(language: str) -> dict[str, float]:
    lex = lexicons()
    if language == "en":
        return lex.en
    if language == "it":
        return lex.it
    return lex.both


def polarity(text: object, language: str = "und") -> float:
    """Sentiment of ``text`` in -1..1 (``language`` picks the lexicon; "und" uses both)."""
    body = strip_urls(clean(text))
    return score_tokens(tokens(body), lexicon_for(language), body.count("!"))
