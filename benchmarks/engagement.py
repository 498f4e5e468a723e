"""Engagement prediction on the Facebook metrics data set, and reaction timing on Klout's
When-To-Post sample.

    python benchmarks/engagement.py [--data /work/shared/data] [--folds 10]

Table 1: mean absolute percentage error of 10-fold cross-validated predictions of "Lifetime
Post Consumers" and "Total Interactions" from the inputs known before publishing (see
``dialogo.analytics.evaluation``), against the baseline of Moro, Rita and Vala (2016), about
27 %, and the issue's goal, < 20 %. Table 2: how fast reactions come on the Klout sample (the
data README gives no numbers to compare with; the sample's posts all fall in one hour).
The data are read in place, never copied.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from dialogo.analytics import evaluation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--folds", type=int, default=10)
    args = parser.parse_args()
    facebook = args.data / "facebook_metrics" / "dataset_Facebook.csv"
    started = time.perf_counter()
    results = evaluation.evaluate(facebook, folds=args.folds)
    print(f"Facebook metrics ({facebook}), {args.folds}-fold cross-validation")
    print(f"baseline: Moro et al. 2016, MAPE ≈ {evaluation.REFERENCE_MAPE:.0f} %\n")
    print(evaluation.table(results))
    print(f"\n({time.perf_counter() - started:.0f} s)\n")
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
