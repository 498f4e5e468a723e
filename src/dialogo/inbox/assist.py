"""Help for the people who answer, never a replacement: saved replies with variables, the
authenticity guard (is this reply a near-copy of many recent ones?), and suggestions retrieved
from similar past conversations. Pure functions over texts and arrays (scikit-learn), no
session: nothing here sends anything.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import NearestNeighbors

VARIABLE = re.compile(r"\{([a-z_]+)\}")
#: The variables a saved reply may use.
VARIABLES = ("name", "handle", "agent", "brand")
#: Two replies at least this similar (cosine of character n-gram TF-IDF) are "the same text".
NEAR_COPY = 0.85
#: A reply that nearly copies at least this many recent replies reads as canned.
CANNED_AFTER = 3


class UnknownVariable(ValueError):
    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(f"unknown variables: {', '.join(names)}; use {', '.join(VARIABLES)}")
        self.names = list(names)


def check_template(body: str) -> list[str]:
    """The variables a saved reply uses; :class:`UnknownVariable` for the others."""
    used = VARIABLE.findall(body)
    unknown = sorted({n for n in used if n not in VARIABLES})
    if unknown:
        raise UnknownVariable(unknown)
    return used


def render(body: str, values: Mapping[str, str]) -> str:
    """Fill ``{name}``, ``{handle}``, ``{agent}``, ``{brand}``; other braces stay as written."""
    check_template(body)
    return VARIABLE.sub(lambda m: values.get(m.group(1), ""), body)


# --- authenticity --------------------------------------------------------------------------------


def _normalise(text: str) -> str:
    text = re.sub(r"[@#]\w+", " ", text.lower())  # handles and hashtags differ between copies
    return re.sub(r"\s+", " ", text).strip()


def similarities(text: str, others: Sequence[str]) -> np.ndarray:
    """Cosine similarity of ``text`` to each of ``others`` (character 3–5-grams, TF-IDF)."""
    if not others:
        return np.zeros(0)
    corpus = [_normalise(text), *(_normalise(o) for o in others)]
    if not any(corpus):
        return np.zeros(len(others))
    try:
        matrix = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit_transform(corpus)
    except ValueError:  # nothing but very short texts
        return np.zeros(len(others))
    scores = (matrix[1:] @ matrix[0].T).toarray().ravel()
    return np.asarray(scores, dtype=float)


@dataclasses.dataclass(frozen=True)
class Authenticity:
    copies: int  # recent replies this one nearly copies
    score: float  # the highest similarity found (0..1)

    @property
    def canned(self) -> bool:
        return self.copies >= CANNED_AFTER


def authenticity(text: str, recent: Sequence[str]) -> Authenticity:
    scores = similarities(text, recent)
    if scores.size == 0:
        return Authenticity(0, 0.0)
    return Authenticity(int((scores >= NEAR_COPY).sum()), float(scores.max()))


def personal_share(copy_scores: Sequence[float]) -> float | None:
    """The share of replies that copy no recent reply (``None`` without replies)."""
    if not copy_scores:
        return None
    return sum(1 for s in copy_scores if s < NEAR_COPY) / len(copy_scores)


# --- suggestions ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Example:
    """A past conversation: what the customer wrote and what a person answered."""

    question: str
    answer: str
    ref: str = ""  # where it comes from (a conversation id)


@dataclasses.dataclass(frozen=True)
class Suggestion:
    answer: str
    similarity: float
    question: str
    ref: str


class SuggestionIndex:
    """Nearest past questions by TF-IDF cosine (word 1–2-grams); their answers are offered to
    a person to edit. Handles and links are stripped: they identify people, not topics."""

    def __init__(self, examples: Sequence[Example]) -> None:
        self.examples = [e for e in examples if e.question.strip() and e.answer.strip()]
        self._vectorizer: TfidfVectorizer | None = None
        self._nn: NearestNeighbors | None = None
        if not self.examples:
            return
        vectorizer = TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, min_df=1, preprocessor=_clean_question
        )
        try:
            matrix = vectorizer.fit_transform([e.question for e in self.examples])
        except ValueError:  # an empty vocabulary
            return
        self._vectorizer = vectorizer
        self._nn = NearestNeighbors(metric="cosine", algorithm="brute").fit(matrix)

    def suggest(
        self, question: str, k: int = 3, *, exclude_ref: str | None = None
    ) -> list[Suggestion]:
        if self._vectorizer is None or self._nn is None:
            return []
        query = self._vectorizer.transform([question])
        if query.nnz == 0:
            return []
        wanted = min(len(self.examples), k * 3 + 1)
        distances, indices = self._nn.kneighbors(query, n_neighbors=wanted)
        found: list[Suggestion] = []
        seen: set[str] = set()
        for distance, index in zip(distances[0], indices[0], strict=True):
            example = self.examples[int(index)]
            key = _normalise(example.answer)
            if (exclude_ref and example.ref == exclude_ref) or key in seen:
                continue
            seen.add(key)
            found.append(
                Suggestion(example.answer, 1.0 - float(distance), example.question, example.ref)
            )
            if len(found) == k:
                break
        return found


def _clean_question(text: str) -> str:
    text = re.sub(r"https?://\S+", " ", text.lower())
    return re.sub(r"@\w+", " ", text)


def token_f1(a: str, b: str) -> float:
    """Token-overlap F1 (SQuAD's measure) between two answers, handles and links removed."""
    ta = re.findall(r"\w+", _clean_question(a))
    tb = re.findall(r"\w+", _clean_question(b))
    if not ta or not tb:
        return 0.0
    counts: dict[str, int] = {}
    for t in tb:
        counts[t] = counts.get(t, 0) + 1
    common = 0
    for t in ta:
        if counts.get(t, 0) > 0:
            common += 1
            counts[t] -= 1
    if common == 0:
        return 0.0
    precision, recall = common / len(ta), common / len(tb)
    return 2 * precision * recall / (precision + recall)
