"""Engagement prediction on the Facebook metrics data set, and reaction timing on Klout's
When-To-Post sample.

    python benchmarks/engagement.py [--data /work/shared/data] [--folds 10] [--models a,b]

Table 1: mean absolute percentage error of 10-fold cross-validated predictions of "Lifetime
Post Consumers" and "Total Interactions" from the inputs known before publishing (see
``dialogo.analytics.evaluation``), against the baseline of Moro, Rita and Vala (2016), about
27 %, the issue's goal, < 20 %, and the naive median-per-type baseline, in one run; the median
absolute percentage error and the mean absolute error beside it. The Dialogo model is tuned by
an inner cross-validation inside each outer training fold (nested). Table 2: how fast reactions
come on the Klout sample (the data README gives no numbers to compare with; the sample's posts
all fall in one hour).
The data are read in place, never copied.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from dialogo.analytics import evaluation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--models", help="comma-separated model names (default: all)")
    args = parser.parse_args()
    facebook = args.data / "facebook_metrics" / "dataset_Facebook.csv"
    started = time.perf_counter()
    models = args.models.split(",") if args.models else None
    results = evaluation.evaluate(facebook, folds=args.folds, models=models)
    print(f"Facebook metrics ({facebook}), {args.folds}-fold cross-validation")
    print(f"baseline: Moro et al. 2016, MAPE ≈ {evaluation.REFERENCE_MAPE:.0f} %\n")
    print(evaluation.table(results))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n({time.perf_counter() - started:.0f} s; load average {load})\n", flush=True)
    klout = args.data / "klout_when_to_post"
    if klout.is_dir():
        rows = [
            evaluation.reaction_timing(klout / f"user_timestamp_open_set_{net}.tsv", name)
            for net, name in (("fb", "facebook"), ("tw", "twitter"))
        ]
        print("Klout When-To-Post sample: delay from a post to its reactions\n")
        print(evaluation.timing_table(rows))


if __name__ == "__main__":
    main()
