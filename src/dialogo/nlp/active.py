"""Active learning: which texts should a person label next? Uncertainty sampling, as pure
functions over arrays, plus the small model a workspace trains on its own corrections.

- With a probabilistic model: the *margin* uncertainty ``1 − (p₁ − p₂)`` (the two most likely
  labels nearly tied → most informative to label).
- Before any model exists: the lexicon score's closeness to a label boundary (±0.05), so the
  texts the lexicon scorer nearly put in another class come first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from dialogo.nlp.model import normalise
from dialogo.nlp.sentiment import NEUTRAL_BAND

MIN_ROWS = 12  # corrections needed (with two labels or more) before a workspace model is used


def margin_uncertainty(proba: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``1 − (p₁ − p₂)`` per row of class probabilities (1 = a tie, 0 = certain)."""
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0:
        return np.zeros(p.shape[0] if p.ndim else 0)
    if p.shape[1] < 2:
        return np.zeros(p.shape[0])
    top = np.sort(p, axis=1)[:, -2:]
    return 1.0 - (top[:, 1] - top[:, 0])


def lexicon_uncertainty(scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """In 0..1: 1 for a score on a label boundary (±NEUTRAL_BAND), falling with the distance."""
    s = np.asarray(scores, dtype=np.float64)
    distance = np.minimum(np.abs(s - NEUTRAL_BAND), np.abs(s + NEUTRAL_BAND))
    return 1.0 / (1.0 + 10.0 * distance)


def most_uncertain(uncertainty: npt.ArrayLike, k: int) -> npt.NDArray[np.intp]:
    """Indices of the ``k`` most uncertain rows, most uncertain first (ties: lower index)."""
    u = np.asarray(uncertainty, dtype=np.float64)
    if k <= 0 or u.size == 0:
        return np.zeros(0, dtype=np.intp)
    order = np.lexsort((np.arange(u.size), -u))
    return order[:k]


def build_light_pipeline(c: float = 4.0) -> Any:
    """Word 1–2-grams into a logistic regression: fast enough to retrain at every request."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            (
                "words",
                TfidfVectorizer(
                    preprocessor=normalise,
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                    token_pattern=r"(?u)[#@]?\b\w+\b|[!?]",  # noqa: S106
                ),
            ),
            ("model", LogisticRegression(C=c, max_iter=1000, class_weight="balanced")),
        ]
    )


def train_on_corrections(texts: Sequence[str], labels: Sequence[str]) -> Any | None:
    """A model of the team's corrections, or None while there are too few (or one label)."""
    if len(texts) < MIN_ROWS or len(set(labels)) < 2:
        return None
    pipe = build_light_pipeline()
    pipe.fit(list(texts), list(labels))
    return pipe
