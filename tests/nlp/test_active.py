"""Uncertainty sampling: margins, lexicon boundaries, picking order, the corrections model."""

import numpy as np
import pytest

from dialogo.nlp import active


def test_margin_uncertainty() -> None:
    u = active.margin_uncertainty([[0.5, 0.5, 0.0], [0.9, 0.05, 0.05], [0.4, 0.35, 0.25]])
    assert u == pytest.approx([1.0, 0.15, 0.95])
    assert active.margin_uncertainty(np.zeros((0, 3))).size == 0
    assert list(active.margin_uncertainty([[1.0], [1.0]])) == [0.0, 0.0]


def test_lexicon_uncertainty_peaks_on_the_boundaries() -> None:
    u = active.lexicon_uncertainty([0.05, -0.05, 0.0, 0.9, -0.9])
    assert u[0] == u[1] == 1.0
    assert 1.0 > u[2] > u[3]
    assert u[3] == pytest.approx(u[4])


def test_most_uncertain_order_and_limits() -> None:
    assert list(active.most_uncertain([0.2, 0.9, 0.9, 0.1], 3)) == [1, 2, 0]
    assert list(active.most_uncertain([0.2], 5)) == [0]
    assert active.most_uncertain([], 3).size == 0
    assert active.most_uncertain([0.3], 0).size == 0


def test_corrections_model_needs_enough_rows_and_two_labels() -> None:
    assert active.train_on_corrections(["good"] * 20, ["positive"] * 20) is None
    assert active.train_on_corrections(["good", "bad"], ["positive", "negative"]) is None
    texts = ["great service", "love it", "awful delay", "terrible staff"] * 4
    labels = ["positive", "positive", "negative", "negative"] * 4
    model = active.train_on_corrections(texts, labels)
    assert model is not None
    assert list(model.predict(["great love", "awful terrible"])) == ["positive", "negative"]
