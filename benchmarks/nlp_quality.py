"""Sentiment and emotion quality by 5-fold cross-validation on the shared labelled sets.

    /work/venv/bin/python benchmarks/nlp_quality.py [--folds 5] \
        [--only sentipolc|airline|multiemotions]

Prints one table: the trainable model (``dialogo.nlp.model``) and, as named baselines, the
lexicon scorer of ``dialogo.nlp.analyse`` (no training) and the figures published for each set.
The data sets are read from ../shared/data (never copied; several are non-commercial).
MultiEmotions-It (Italian emotions, CC BY-NC-SA 4.0) is for evaluation and for training on the
user's own machine only: no model trained on it ships with Dialogo.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from dialogo.nlp import analyse
from dialogo.nlp import model as nlp_model

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SETS = {
    "sentipolc": (
        DATA / "sentipolc2016" / "train.csv",
        "best 2016 system 0.6638 (official test); AlBERTo 0.7223",
    ),
    "airline": (
        DATA / "airline_sentiment" / "train.csv",
        "TF-IDF + linear SVM ≈ 0.79; RoBERTa ≈ 0.86",
    ),
    # Emotions: there is no lexicon scorer to compare with, so the "lexicon only" column holds
    # the trivial baseline that marks every emotion present in every comment.
    "multiemotions": (
        DATA / "multiemotions_it" / "MultiEmotions-It.tsv",
        "none on this exact task in ../shared/data/README.md",
    ),
}


def lexicon_scores(data: nlp_model.Dataset) -> dict[str, float]:
    if data.format == "multiemotions":
        every = {k: np.ones_like(v) for k, v in data.targets.items()}
        return nlp_model.scores(data.format, data.targets, every)
    results = [analyse(t, data.language) for t in data.texts]
    if data.format == "sentipolc":
        pred = {
            "opos": np.array([int(a.label == "positive") for a in results]),
            "oneg": np.array([int(a.label == "negative") for a in results]),
            "subj": np.array([int(a.label != "neutral") for a in results]),
            "iro": np.zeros(len(results), dtype=int),
        }
    else:
        pred = {"label": np.array([a.label for a in results])}
    return nlp_model.scores(data.format, data.targets, pred)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only", choices=sorted(SETS))
    args = parser.parse_args()
    rows = []
    for name, (path, published) in SETS.items():
        if args.only and name != args.only:
            continue
        if not path.exists():
            print(f"skip {name}: {path} is absent")
            continue
        data = nlp_model.read_file(path, name)
        start = time.perf_counter()
        cv = nlp_model.cross_validate(data, folds=args.folds)
        seconds = time.perf_counter() - start
        lex = lexicon_scores(data)
        metric = nlp_model.OFFICIAL_NAME[name]
        rows.append((name, len(data.texts), metric, cv, lex, published, seconds))
    print()
    print(
        f"| set | rows | metric | model ({args.folds}-fold CV) | baseline: lexicon only "
        "(emotions: every emotion marked) | published "
        "| CV time |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, n, metric, cv, lex, published, seconds in rows:
        print(
            f"| {name} | {n} | {metric} | {cv['official']:.4f} | {lex['official']:.4f} "
            f"| {published} | {seconds:.0f} s |"
        )
    for name, _n, _m, cv, _lex, _p, _s in rows:
        extras = ", ".join(f"{k} {v:.4f}" for k, v in cv.items() if k != "official")
        print(f"{name}: {extras}")


if __name__ == "__main__":
    main()
