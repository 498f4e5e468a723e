"""Evaluation of the engagement model on the public Facebook metrics data set (Moro, Rita and
Vala 2016: 500 posts of a cosmetics brand's page, CC BY 4.0), by cross-validation.

The inputs are the ones Moro et al. use, all known before publishing: the page's total likes,
the post's type, category, month, weekday and hour, and whether it was paid. The outputs are
their "Lifetime Post Consumers" and "Total Interactions" (likes + comments + shares). Mean
absolute percentage error over the posts whose output is not 0 (MAPE is undefined at 0), from
10-fold cross-validation; the published reference is about 27 % (on their full 790 posts; the
public file has 500; their abstract gives "around 27 %" for the *two best* of the twelve outputs
they model, naming "Lifetime Post Consumers" as one). The median absolute percentage error and
the mean absolute error are printed beside it: MAPE is dominated by the few posts with small
outputs (a post with 9 consumers predicted at 90 counts 900 %).

Engineered inputs, still all known before publishing: the hour also as a point on the clock
(sine and cosine, so 23:00 is next to 0:00) and the type × paid combination. The page's total
likes stands for time and audience size (it grows through the year).

The naive baselines are the training posts' median, overall and per type, and the MAPE-aware
one: the ``1/y``-weighted median per type × paid (:func:`mape_optimal`, the constant with the
least MAPE: MAPE rewards predicting low). The Dialogo model is
:class:`~dialogo.analytics.engagement.TunedEngagementModel`: gradient-boosted trees on absolute
error weighted by ``1/y`` (the MAPE loss), hyper-parameters chosen by an inner 3-fold
cross-validation inside each outer training fold (nested: never tuned on the test fold).
Beside it, fixed settings of the objectives on ``log(1 + y)`` (the ``1/y``-weighted absolute
error, and the lower quartile), and the lower quartile with the page's own history as known
when the post went out (:func:`with_history`: the mean outcome of the most recent earlier
posts, overall and of the post's type, and the growth of the page's likes; only earlier posts,
whatever the fold). Choosing among the objectives by the inner cross-validation too was tried
and did worse (68.9 % against 62.2 % on consumers): with 450 training posts the inner MAPE of a
setting moves with a handful of small posts, and the choice follows that noise.

The noise floor (:func:`oracle`): each post predicted by the MAPE-optimal constant of its
type × category × paid group computed on all the posts, test folds included. It is about 63 %
on both outputs: posts that look alike before publishing differ that much, mostly because of
a few posts with very small outcomes (9 consumers, 1 interaction) that nothing before
publishing singles out (their reach was small, which is known only afterwards).

A row "with reach" also gives the model the post's lifetime reach and impressions: that is not
a prediction before publishing (reach is known only afterwards) but what engagement a given
reach turns into; it is printed to show how much of the error is the reach itself.

The file is only read (never copied); a missing or malformed file raises ``ValueError`` with
the line.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dialogo.analytics.engagement import (
    EngagementModel,
    TunedEngagementModel,
    cross_validate,
    mape,
    mdape,
)

CATEGORICAL = ("type", "category", "month", "weekday", "hour", "paid")
NUMERIC = ("page_likes",)
ENGINEERED = (*CATEGORICAL, "type_paid")
ENGINEERED_NUMERIC = ("page_likes", "hour_sin", "hour_cos")
WITH_REACH = ("page_likes", "reach", "impressions")
#: The page's own history as it stood when the post went out (see :func:`with_history`).
HISTORY = ("past_all", "past_type", "has_history", "likes_growth")
#: Posts of this many most recent earlier page-likes snapshots are left out of the history:
#: their lifetime counts were still growing when the post went out.
HISTORY_LAG = 1
HISTORY_POSTS = 20
TARGETS = {"consumers": "Lifetime Post Consumers", "interactions": "Total Interactions"}
REFERENCE_MAPE = 27.0
GOAL_MAPE = 20.0


def read_facebook(path: Path) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """The rows' features and the targets; ``ValueError`` naming the line for a broken row."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    rows: list[dict[str, Any]] = []
    targets: dict[str, list[float]] = {k: [] for k in TARGETS}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter=";" if ";" in handle.readline() else ",")
        handle.seek(0)
        reader = csv.DictReader(handle, delimiter=reader.reader.dialect.delimiter)
        for line, raw in enumerate(reader, start=2):
            try:
                rows.append(
                    {
                        "type": raw["Type"],
                        "category": raw["Category"],
                        "month": raw["Post Month"],
                        "weekday": raw["Post Weekday"],
                        "hour": raw["Post Hour"],
                        "paid": raw["Paid"] or "0",
                        "type_paid": f"{raw['Type']}/{raw['Paid'] or '0'}",
                        "hour_sin": math.sin(2 * math.pi * float(raw["Post Hour"]) / 24),
                        "hour_cos": math.cos(2 * math.pi * float(raw["Post Hour"]) / 24),
                        "page_likes": float(raw["Page total likes"]),
                        "reach": float(np.log1p(float(raw["Lifetime Post Total Reach"]))),
                        "impressions": float(
                            np.log1p(float(raw["Lifetime Post Total Impressions"]))
                        ),
                    }
                )
                for key, column in TARGETS.items():
                    targets[key].append(float(raw[column] or 0))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}, line {line}: {exc!r}") from exc
    if len(rows) < 20:
        raise ValueError(f"{path}: {len(rows)} rows; at least 20 are needed")
    return rows, {k: np.asarray(v, dtype=np.float64) for k, v in targets.items()}


@dataclasses.dataclass(frozen=True)
class Result:
    target: str
    model: str
    mape: float
    posts: int  # rows with a non-zero target (MAPE's denominator)
    mdape: float = math.nan
    mae: float = math.nan


class _Median:
    """The baseline: every post gets the training posts' median."""

    def fit(self, rows: Sequence[Any], y: np.ndarray) -> _Median:
        self.value = float(np.median(y))
        return self

    def predict(self, rows: Sequence[Any]) -> np.ndarray:
        return np.full(len(rows), self.value)


class _MedianPerType:
    """The named naive baseline: the training posts' median for the post's type (the overall
    median for a type the training posts lack)."""

    def fit(self, rows: Sequence[Any], y: np.ndarray) -> _MedianPerType:
        self.overall = float(np.median(y))
        types = np.asarray([str(r["type"]) for r in rows])
        self.by_type = {t: float(np.median(y[types == t])) for t in set(types.tolist())}
        return self

    def predict(self, rows: Sequence[Any]) -> np.ndarray:
        return np.asarray([self.by_type.get(str(r["type"]), self.overall) for r in rows])


class _WeightedMedianPerGroup:
    """The MAPE-aware naive baseline: the training posts' ``1/y``-weighted median (the constant
    with the least MAPE) for the post's type × paid, the overall one for a group of fewer than
    5 training posts."""

    def fit(self, rows: Sequence[Any], y: np.ndarray) -> _WeightedMedianPerGroup:
        self.overall = mape_optimal(y)
        keys = np.asarray([str(r["type_paid"]) for r in rows])
        self.by_key = {
            k: mape_optimal(y[keys == k]) for k in set(keys.tolist()) if (keys == k).sum() >= 5
        }
        return self

    def predict(self, rows: Sequence[Any]) -> np.ndarray:
        return np.asarray([self.by_key.get(str(r["type_paid"]), self.overall) for r in rows])


def mape_optimal(y: np.ndarray) -> float:
    """The constant with the least MAPE over ``y``: its ``1/y``-weighted median (0s left out;
    0 when all are 0)."""
    positive = np.sort(y[y > 0])
    if positive.size == 0:
        return 0.0
    weights = np.cumsum(1.0 / positive)
    return float(positive[int(np.searchsorted(weights, weights[-1] / 2))])


def with_history(
    rows: Sequence[dict[str, Any]],
    y: np.ndarray,
    *,
    lag: int = HISTORY_LAG,
    posts: int = HISTORY_POSTS,
) -> list[dict[str, Any]]:
    """``rows`` with the page's history as known when each post went out (only earlier posts,
    never the post itself or later ones, whatever the fold): ``past_all``, the mean
    ``log(1 + y)`` of the ``posts`` most recent earlier posts; ``past_type``, the same over
    earlier posts of the post's type (``past_all`` when there are none); ``has_history`` (0 for
    the first posts, whose two means are then 0); ``likes_growth``, the log ratio of the page's
    total likes to its previous value (how fast the audience grows, known on the day).

    The public file lists the posts newest first (its months never increase down the file),
    and "Page total likes" changes from one day or snapshot to the next: "earlier" is a smaller
    snapshot number in that order, and the posts of the ``lag`` most recent earlier snapshots
    are left out, their lifetime counts being still open then."""
    n = len(rows)
    chronological = list(range(n))[::-1]
    snapshot = np.zeros(n, dtype=np.int64)
    likes = np.asarray([float(r["page_likes"]) for r in rows])
    for j in range(1, n):
        i, before = chronological[j], chronological[j - 1]
        snapshot[i] = snapshot[before] + (likes[i] != likes[before])
    first_likes = {int(snapshot[i]): likes[i] for i in reversed(chronological)}
    logged = np.log1p(y)
    types = np.asarray([str(r["type"]) for r in rows])
    order = np.asarray(chronological)  # oldest first
    out = []
    for i in range(n):
        past = order[snapshot[order] < snapshot[i] - lag][::-1]  # most recent first
        same = past[types[past] == types[i]]
        past_all = float(logged[past[:posts]].mean()) if past.size else 0.0
        previous = first_likes.get(int(snapshot[i]) - 1)
        out.append(
            {
                **rows[i],
                "past_all": past_all,
                "past_type": float(logged[same[:posts]].mean()) if same.size else past_all,
                "has_history": float(past.size > 0),
                "likes_growth": math.log(likes[i] / previous) if previous else 0.0,
            }
        )
    return out


DIALOGO = "boosted, MAPE loss, nested CV (Dialogo)"
#: Fixed settings (no tuning) of the objectives that predict low; they were picked by looking
#: at 10-fold scores of this very data set, so their rows are optimistic by that selection.
LOG_SETTINGS: dict[str, Any] = {"min_samples_leaf": 10, "learning_rate": 0.05, "n_estimators": 150}
WITH_HISTORY = "boosted, quantile 0.25 on log, + page history"
MODELS: dict[str, Callable[[], Any]] = {
    "median (baseline)": _Median,
    "median per type (naive baseline)": _MedianPerType,
    "MAPE-optimal constant per type × paid": _WeightedMedianPerGroup,
    "ridge on log (former default)": lambda: EngagementModel(CATEGORICAL, NUMERIC),
    "boosted trees, MAPE loss (former)": lambda: EngagementModel(
        CATEGORICAL, NUMERIC, kind="boosted"
    ),
    DIALOGO: lambda: TunedEngagementModel(ENGINEERED, ENGINEERED_NUMERIC),
    "boosted, MAPE loss on log (fixed)": lambda: EngagementModel(
        ENGINEERED, ENGINEERED_NUMERIC, kind="boosted", objective="mape-log", **LOG_SETTINGS
    ),
    "boosted, quantile 0.25 on log (fixed)": lambda: EngagementModel(
        ENGINEERED, ENGINEERED_NUMERIC, kind="boosted", objective="quantile-log", **LOG_SETTINGS
    ),
    WITH_HISTORY: lambda: EngagementModel(
        ENGINEERED,
        ENGINEERED_NUMERIC + HISTORY,
        kind="boosted",
        objective="quantile-log",
        **LOG_SETTINGS,
    ),
    "boosted, MAPE loss, with reach (after!)": lambda: EngagementModel(
        CATEGORICAL, WITH_REACH, kind="boosted"
    ),
}


def evaluate(
    path: Path,
    *,
    folds: int = 10,
    seed: int = 0,
    limit: int | None = None,
    models: Sequence[str] | None = None,
) -> list[Result]:
    """Out-of-fold scores of ``models`` (names of :data:`MODELS`, all by default)."""
    unknown = [m for m in models or () if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown model {unknown[0]!r}: use one of {', '.join(MODELS)}")
    rows, targets = read_facebook(path)
    if limit is not None:
        rows = rows[:limit]
        targets = {k: v[:limit] for k, v in targets.items()}
    results = []
    for key, y in targets.items():
        data = with_history(rows, y)  # only WITH_HISTORY reads the history columns
        scored = [
            (name, cross_validate(MODELS[name], data, y, folds=folds, seed=seed))
            for name in models or MODELS
        ]
        scored.append((ORACLE, oracle(rows, y)))  # cheap: always printed
        for name, predicted in scored:
            results.append(
                Result(
                    key,
                    name,
                    mape(y, predicted),
                    int((y != 0).sum()),
                    mdape(y, predicted),
                    float(np.mean(np.abs(predicted - y))),
                )
            )
    return results


ORACLE = "oracle: best constant per type×category×paid"


def oracle(rows: Sequence[dict[str, Any]], y: np.ndarray) -> np.ndarray:
    """The noise floor of the inputs that matter most: every post predicted by the MAPE-optimal
    constant of its type × category × paid group computed on *all* posts, its own and the
    test folds' included (no model can know that). What is left is the spread of the outcome
    among posts that look alike before publishing."""
    keys = np.asarray([f"{r['type']}|{r['category']}|{r['paid']}" for r in rows])
    best = {k: mape_optimal(y[keys == k]) for k in set(keys.tolist())}
    return np.asarray([best[k] for k in keys.tolist()])


def table(results: Sequence[Result]) -> str:
    lines = [
        f"| {'target':<13} | {'model':<46} | {'MAPE %':>7} | {'MdAPE %':>7} | {'MAE':>7} "
        f"| {'posts':>5} | vs Moro 27 % | goal < 20 % |",
        f"|{'-' * 15}|{'-' * 48}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 7}"
        "|--------------|-------------|",
    ]
    for r in results:
        better = "better" if r.mape < REFERENCE_MAPE else "worse"
        goal = "meets" if r.mape < GOAL_MAPE else "misses"
        lines.append(
            f"| {r.target:<13} | {r.model:<46} | {r.mape:7.1f} | {r.mdape:7.1f} | {r.mae:7.1f} "
            f"| {r.posts:5d} | {better:<12} | {goal:<11} |"
        )
    return "\n".join(lines)


# -- reaction timing on Klout's When-To-Post sample -----------------------------------------------


@dataclasses.dataclass(frozen=True)
class Timing:
    network: str
    posts: int
    reactions: int
    median_minutes: float
    within_1h: float  # share of reactions
    within_24h: float
    peak_utc_hour_posts: int
    peak_utc_hour_reactions: int


def reaction_timing(path: Path, network: str) -> Timing:
    """Delays between a post and its reactions in one Klout sample file (TSV: user, actor,
    post, post time ms, action time ms, time zone). Reactions before their post (perturbed
    timestamps) count as delay 0."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    post_ms: list[int] = []
    action_ms: list[int] = []
    posts: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for line, text in enumerate(handle, start=1):
            if text.startswith("#") or not text.strip():
                continue
            fields = text.rstrip("\n").split("\t")
            try:
                post_ms.append(int(fields[3]))
                action_ms.append(int(fields[4]))
                posts.add(fields[2])
            except (IndexError, ValueError) as exc:
                raise ValueError(f"{path}, line {line}: {exc!r}") from exc
    if not post_ms:
        raise ValueError(f"{path}: no reactions")
    p = np.asarray(post_ms, dtype=np.int64)
    a = np.asarray(action_ms, dtype=np.int64)
    minutes = np.maximum(a - p, 0) / 60_000
    unique_posts = np.unique(p)
    return Timing(
        network=network,
        posts=len(posts),
        reactions=int(a.size),
        median_minutes=float(np.median(minutes)),
        within_1h=float(np.mean(minutes <= 60)),
        within_24h=float(np.mean(minutes <= 24 * 60)),
        peak_utc_hour_posts=int(
            np.bincount((unique_posts // 3_600_000) % 24, minlength=24).argmax()
        ),
        peak_utc_hour_reactions=int(np.bincount((a // 3_600_000) % 24, minlength=24).argmax()),
    )


def timing_table(rows: Sequence[Timing]) -> str:
    lines = [
        "| network  | posts | reactions | median delay | within 1 h | within 24 h "
        "| peak UTC hour (posts / reactions) |",
        "|----------|-------|-----------|--------------|------------|-------------"
        "|-----------------------------------|",
    ]
    for t in rows:
        lines.append(
            f"| {t.network:<8} | {t.posts:5d} | {t.reactions:9d} | {t.median_minutes:8.1f} min "
            f"| {t.within_1h:9.0%} | {t.within_24h:10.0%} "
            f"| {t.peak_utc_hour_posts:02d}:00 / {t.peak_utc_hour_reactions:02d}:00"
            f"{'':<19}|"
        )
    return "\n".join(lines)
