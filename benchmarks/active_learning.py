"""Learning curves: uncertainty sampling (what the Listening page asks people to label) against
random labelling, on the shared SENTIPOLC and airline sets.

    /work/venv/bin/python benchmarks/active_learning.py [--seeds 3] [--start 100] [--step 100]
        [--rounds 10] [--only sentipolc|airline]

Each run holds out a stratified 20 % as the test set; the rest is the unlabelled pool. Both
strategies start from the same ``start`` random labels and add ``step`` labels per round: at
random, or the pool texts whose two most likely labels are closest (margin uncertainty,
``dialogo.nlp.active``). The model is the light pipeline the page uses (word 1–2-gram TF-IDF,
fitted once on all texts without labels, + logistic regression). Labels: airline's three
classes; SENTIPOLC's polarity mapped to negative / neutral / positive (mixed tweets, both
positive and negative, count as neutral). Metric: accuracy (airline), macro-F1 (SENTIPOLC).
Data are read from ../shared/data and never copied; without them the run stops with a message.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dialogo.nlp import active
from dialogo.nlp import model as nlp_model

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SETS = {
    "sentipolc": DATA / "sentipolc2016" / "train.csv",
    "airline": DATA / "airline_sentiment" / "train.csv",
}


def labels_of(data: nlp_model.Dataset) -> npt.NDArray[np.str_]:
    if data.format == "airline":
        return np.asarray(data.targets["label"], dtype=str)
    pos, neg = data.targets["opos"], data.targets["oneg"]
    return np.where(
        (pos == 1) & (neg == 0),
        "positive",
        np.where((neg == 1) & (pos == 0), "negative", "neutral"),
    )


def curve(
    x: object,
    y: npt.NDArray[np.str_],
    train_idx: npt.NDArray[np.intp],
    test_idx: npt.NDArray[np.intp],
    *,
    strategy: str,
    start: int,
    step: int,
    rounds: int,
    seed: int,
    metric: str,
) -> list[float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(seed)
    labelled = list(rng.choice(train_idx, size=start, replace=False))
    pool = np.setdiff1d(train_idx, labelled)
    scores = []
    for r in range(rounds + 1):
        clf = LogisticRegression(C=4.0, max_iter=1000, class_weight="balanced")
        clf.fit(x[labelled], y[labelled])  # type: ignore[index]
        pred = clf.predict(x[test_idx])  # type: ignore[index]
        if metric == "accuracy":
            scores.append(float(accuracy_score(y[test_idx], pred)))
        else:
            scores.append(float(f1_score(y[test_idx], pred, average="macro")))
        if r == rounds:
            break
        if strategy == "random":
            chosen = rng.choice(pool, size=step, replace=False)
        else:
            u = active.margin_uncertainty(clf.predict_proba(x[pool]))  # type: ignore[index]
            chosen = pool[active.most_uncertain(u, step)]
        labelled.extend(int(i) for i in chosen)
        pool = np.setdiff1d(pool, chosen)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--start", type=int, default=100)
    parser.add_argument("--step", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--only", choices=sorted(SETS))
    args = parser.parse_args()
    from sklearn.model_selection import StratifiedShuffleSplit

    for name, path in SETS.items():
        if args.only and name != args.only:
            continue
        if not path.exists():
            print(f"skip {name}: {path} is absent")
            continue
        started = time.perf_counter()
        data = nlp_model.read_file(path, name)
        y = labels_of(data)
        features = active.build_light_pipeline().named_steps["words"]
        x = features.fit_transform(data.texts)
        metric = "accuracy" if name == "airline" else "macro-F1"
        curves: dict[str, list[list[float]]] = {"random": [], "uncertainty": []}
        for seed in range(args.seeds):
            split = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
            train_idx, test_idx = next(split.split(np.zeros(len(y)), y))
            for strategy in curves:
                curves[strategy].append(
                    curve(
                        x,
                        y,
                        train_idx,
                        test_idx,
                        strategy=strategy,
                        start=args.start,
                        step=args.step,
                        rounds=args.rounds,
                        seed=seed,
                        metric=metric,
                    )
                )
        mean = {k: np.mean(np.array(v), axis=0) for k, v in curves.items()}
        spread = {k: np.std(np.array(v), axis=0) for k, v in curves.items()}
        print()
        print(
            f"{name}: {len(y):,} texts, {metric} on a held-out 20 %, mean ± sd of "
            f"{args.seeds} seeds ({time.perf_counter() - started:.0f} s)"
        )
        print()
        print("| labels | random | uncertainty sampling | difference |")
        print("|---|---|---|---|")
        for r in range(args.rounds + 1):
            n = args.start + r * args.step
            rnd, unc = mean["random"][r], mean["uncertainty"][r]
            print(
                f"| {n:,} | {rnd:.4f} ± {spread['random'][r]:.4f} | "
                f"{unc:.4f} ± {spread['uncertainty'][r]:.4f} | {unc - rnd:+.4f} |"
            )


if __name__ == "__main__":
    main()
