"""Uplift modelling: who responds *because* of a campaign, learnt from a past campaign with a
random control group. Pure functions over arrays (no session, no network).

* :func:`fit_two_model` — the "T-learner": one classifier on the treated, one on the control
  group; the uplift of a person is ``P(respond | treated) − P(respond | control)``.
* :func:`fit_class_transformation` — Jaskowski & Jaroszewicz (2012): one classifier on the
  transformed label ``z = 1`` when (treated and responded) or (control and did not); with
  treated and control weighted to equal shares, ``uplift = 2 · P(z = 1) − 1``.
* :func:`qini_curve`, :func:`qini_coefficient`, :func:`uplift_curve`, :func:`auuc` — how well
  a ranking of people by predicted uplift sorts the real incremental responses (Radcliffe 2007;
  the same definitions as scikit-uplift's ``qini_curve`` / ``uplift_auc_score``).
* :func:`cross_fit` — out-of-fold predictions, so a model is never scored on what it learnt.

The classifiers are scikit-learn logistic regressions on sparse one-hot / score features
(:func:`features`), fast enough to refit on every request for tens of thousands of people.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
ModelName = Literal["two_model", "class_transformation"]
MODELS: tuple[ModelName, ...] = ("two_model", "class_transformation")


class UpliftError(ValueError):
    """The data cannot train an uplift model (no control group, no responses …)."""


class Model(Protocol):
    def predict(self, x: object) -> FloatArray: ...


def features(rows: Sequence[Mapping[str, float | str]]) -> tuple[object, DictVectorizer]:
    """Sparse features from dicts (``{"age_band": "25-34", "interest:coffee": 0.8}``): strings
    are one-hot encoded, numbers kept. Returns ``(matrix, fitted vectorizer)``."""
    vectorizer = DictVectorizer(sparse=True)
    matrix = vectorizer.fit_transform([dict(r) for r in rows])
    return matrix, vectorizer


def _check(treated: BoolArray, responded: BoolArray) -> None:
    if treated.shape != responded.shape:
        raise UpliftError("treated and responded differ in length")
    n_treated = int(treated.sum())
    n_control = int(treated.size - n_treated)
    if n_treated < 10 or n_control < 10:
        raise UpliftError(
            f"an uplift model needs at least 10 treated and 10 control people "
            f"(got {n_treated} treated, {n_control} control)"
        )
    for group, name in ((treated, "treated"), (~treated, "control")):
        outcomes = responded[group]
        if outcomes.all() or not outcomes.any():
            raise UpliftError(f"the {name} group has only one outcome: nothing to learn")


def _classifier(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=2000)


@dataclasses.dataclass(frozen=True)
class TwoModel:
    treated: LogisticRegression
    control: LogisticRegression

    def predict(self, x: object) -> FloatArray:
        p1 = self.treated.predict_proba(x)[:, 1]
        p0 = self.control.predict_proba(x)[:, 1]
        return np.asarray(p1 - p0, dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class ClassTransformation:
    model: LogisticRegression

    def predict(self, x: object) -> FloatArray:
        return np.asarray(2.0 * self.model.predict_proba(x)[:, 1] - 1.0, dtype=np.float64)


def fit_two_model(
    x: object, treated: BoolArray, responded: BoolArray, *, c: float = 0.5
) -> TwoModel:
    """Two classifiers: on the treated and on the control group."""
    treated = np.asarray(treated, dtype=np.bool_)
    responded = np.asarray(responded, dtype=np.bool_)
    _check(treated, responded)
    rows_t = np.flatnonzero(treated)
    rows_c = np.flatnonzero(~treated)
    model_t = _classifier(c).fit(x[rows_t], responded[rows_t])  # type: ignore[index]
    model_c = _classifier(c).fit(x[rows_c], responded[rows_c])  # type: ignore[index]
    return TwoModel(model_t, model_c)


def fit_class_transformation(
    x: object, treated: BoolArray, responded: BoolArray, *, c: float = 0.5
) -> ClassTransformation:
    """One classifier on ``z = treated == responded``; treated and control are weighted to
    equal total weight, which the transformation assumes (a 50/50 split)."""
    treated = np.asarray(treated, dtype=np.bool_)
    responded = np.asarray(responded, dtype=np.bool_)
    _check(treated, responded)
    z = treated == responded
    share = float(treated.mean())
    weight = np.where(treated, 0.5 / share, 0.5 / (1.0 - share))
    model = _classifier(c).fit(x, z, sample_weight=weight)
    return ClassTransformation(model)


FITTERS: dict[ModelName, Callable[..., Model]] = {
    "two_model": fit_two_model,
    "class_transformation": fit_class_transformation,
}


def cross_fit(
    model: ModelName,
    x: object,
    treated: BoolArray,
    responded: BoolArray,
    *,
    folds: int = 2,
    seed: int = 0,
) -> FloatArray:
    """Out-of-fold uplift predictions: each person is scored by a model fitted on the other
    folds (folds stratified by group and outcome)."""
    if model not in FITTERS:
        raise UpliftError(f"unknown model {model!r}: use {', '.join(MODELS)}")
    treated = np.asarray(treated, dtype=np.bool_)
    responded = np.asarray(responded, dtype=np.bool_)
    _check(treated, responded)
    rng = np.random.default_rng(seed)
    fold = np.empty(treated.size, dtype=np.int64)
    for cell in (0, 1, 2, 3):
        members = np.flatnonzero(treated * 2 + responded == cell)
        fold[rng.permutation(members)] = np.arange(members.size) % folds
    out = np.empty(treated.size, dtype=np.float64)
    for k in range(folds):
        train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        fitted = FITTERS[model](x[train], treated[train], responded[train])  # type: ignore[index]
        out[test] = fitted.predict(x[test])  # type: ignore[index]
    return out


# --- evaluation -----------------------------------------------------------------------------


def _sorted(
    score: FloatArray, treated: BoolArray, responded: BoolArray
) -> tuple[NDArray[np.int64], FloatArray, FloatArray, FloatArray, FloatArray]:
    """Cumulative counts at each distinct score threshold, best first:
    ``(people, treated, control, treated responders, control responders)``."""
    score = np.asarray(score, dtype=np.float64)
    treated = np.asarray(treated, dtype=np.bool_)
    responded = np.asarray(responded, dtype=np.bool_)
    if not score.shape == treated.shape == responded.shape:
        raise UpliftError("score, treated and responded differ in length")
    if score.size == 0:
        raise UpliftError("nothing to evaluate")
    order = np.argsort(-score, kind="mergesort")
    s, t, y = score[order], treated[order], responded[order]
    cum_t = np.cumsum(t).astype(np.float64)
    cum_c = np.cumsum(~t).astype(np.float64)
    cum_yt = np.cumsum(y & t).astype(np.float64)
    cum_yc = np.cumsum(y & ~t).astype(np.float64)
    # keep the last position of each run of equal scores (ties move together)
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]
    people = np.r_[0, last + 1].astype(np.int64)
    pad = np.r_[0.0]
    return (
        people,
        np.r_[pad, cum_t[last]],
        np.r_[pad, cum_c[last]],
        np.r_[pad, cum_yt[last]],
        np.r_[pad, cum_yc[last]],
    )


def qini_curve(
    score: FloatArray, treated: BoolArray, responded: BoolArray
) -> tuple[NDArray[np.int64], FloatArray]:
    """``(x, q)``: targeting the ``x`` people with the highest score yields ``q`` incremental
    responses, ``q = R_t − R_c · N_t / N_c`` among them (Radcliffe's Qini curve)."""
    people, n_t, n_c, r_t, r_c = _sorted(score, treated, responded)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = r_t - np.where(n_c > 0, r_c * n_t / n_c, 0.0)
    return people, np.asarray(q, dtype=np.float64)


def uplift_curve(
    score: FloatArray, treated: BoolArray, responded: BoolArray
) -> tuple[NDArray[np.int64], FloatArray]:
    """``(x, u)``: ``u = (R_t / N_t − R_c / N_c) · x`` among the top ``x`` people."""
    people, n_t, n_c, r_t, r_c = _sorted(score, treated, responded)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n_t > 0, r_t / np.maximum(n_t, 1), 0.0) - np.where(
            n_c > 0, r_c / np.maximum(n_c, 1), 0.0
        )
    return people, np.asarray(rate * people, dtype=np.float64)


def _area(x: NDArray[np.int64], y: FloatArray) -> float:
    xs = x.astype(np.float64)
    return float(np.sum((xs[1:] - xs[:-1]) * (y[1:] + y[:-1]) / 2.0))


def _random_area(x: NDArray[np.int64], y: FloatArray) -> float:
    return float(x[-1]) * float(y[-1]) / 2.0


def qini_coefficient(score: FloatArray, treated: BoolArray, responded: BoolArray) -> float:
    """Area between the Qini curve and the random-targeting diagonal (people × responses).
    Positive when the ranking puts the persuadable first; compare models on the same data."""
    x, q = qini_curve(score, treated, responded)
    return _area(x, q) - _random_area(x, q)


def auuc(score: FloatArray, treated: BoolArray, responded: BoolArray) -> float:
    """Area under the uplift curve minus the random ranking's, divided by the number of
    people (incremental responses per person, averaged over targeting depths)."""
    x, u = uplift_curve(score, treated, responded)
    return (_area(x, u) - _random_area(x, u)) / float(x[-1])


def segment_uplift(
    members: BoolArray, treated: BoolArray, responded: BoolArray
) -> tuple[float | None, int, int]:
    """The observed uplift within a group of people: ``(rate_t − rate_c, n_t, n_c)``
    (``None`` when one of the two groups is empty)."""
    members = np.asarray(members, dtype=np.bool_)
    t = members & treated
    c = members & ~np.asarray(treated, dtype=np.bool_)
    n_t, n_c = int(t.sum()), int(c.sum())
    if n_t == 0 or n_c == 0:
        return None, n_t, n_c
    return float(responded[t].mean() - responded[c].mean()), n_t, n_c
