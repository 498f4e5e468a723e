"""Engagement prediction on the Facebook metrics data set, and reaction timing on Klout's
When-To-Post sample.

    python benchmarks/engagement.py [--data /work/shared/data] [--folds 10] [--models "a;b"]

Table 1: mean absolute percentage error of 10-fold cross-validated predictions of "Lifetime
Post Consumers" and "Total Interactions" from the inputs known before publishing (see
``dialogo.analytics.evaluation``), against the baseline of Moro, Rita and Vala (2016), about
27 %, the issue's goal, < 20 %, and the naive median-per-type baseline, in one run; the median
absolute percentage error and the mean absolute error beside it. The Dialogo model is tuned by
an inner cross-validation inside each outer training fold (nested). Table 2: how fast reactions
come on the Klout sample (the data README gives no numbers to compare with; the sample's posts
all fall in one hour).
The data are read in place, never copied.

What Moro, Rita and Vala (2016, J. Business Research 69(9), 3341-3351,
doi:10.1016/j.jbusres.2016.02.010) measured, from what could be read here:

- Data: 790 posts of 2014 on a cosmetics brand's Facebook page; the public file (UCI) has 500
  of them. Inputs: the seven known before publishing, category, page total likes, type, month,
  hour, weekday, paid (their abstract, e.g. the ISCTE record ciencia.iscte-iul.pt/id/
  ci-pub-28390). Outputs: twelve lifetime metrics modelled one at a time (total reach, total
  impressions, engaged users, consumers, consumptions, impressions and reach among the page's
  fans, fans who engaged, comments, likes, shares, total interactions).
- Model: support vector regression with the R package rminer (Sam et al. 2018, arXiv
  1805.05579, who re-ran the set, describe it as SVR and say that "few of the metrics obtained
  good results" by MAPE). The exact validation (rminer's ``mining()`` runs × folds) and the
  per-output table could not be read from the sources reachable here: only the abstract's
  "two best results achieving a mean absolute percentage error of around 27 %", one of them
  "Lifetime Post Consumers". The 27 % is therefore a figure for consumers and one other,
  unnamed output; for "Total Interactions" no published figure was found.
- MAPE in rminer (``mmetric(..., metric="MAPE")``, R/metrics.R of cran/rminer):
  ``100 * mean(abs((y - x) / y))`` over the test predictions of a run (then averaged over runs),
  zeros not left out: a post with ``y = 0`` makes it infinite. It is the formula used here,
  pooled over the out-of-fold predictions of one 10-fold run; "Total Interactions" has 6 posts
  at 0 in the public file (rminer's MAPE would be infinite), which are left out (494 posts).

Result (2026-12-06, 10-fold, seed 0, one run for the rows below but Dialogo's, measured in a
second run the same hour; load average 20-28 on 2 cores shared by other jobs; accuracy
figures do not depend on the load):

| output       | model                                         | MAPE % | MdAPE % |
|--------------|-----------------------------------------------|--------|---------|
| consumers    | median (baseline)                             |  115.3 |    49.2 |
| consumers    | median per type (naive baseline)              |  108.7 |    44.0 |
| consumers    | MAPE-optimal constant per type × paid         |   79.4 |    60.4 |
| consumers    | boosted, MAPE loss, nested CV (Dialogo)       |   62.2 |    33.6 |
| consumers    | boosted, MAPE loss on log (fixed)             |   61.0 |    34.5 |
| consumers    | boosted, quantile 0.25 on log, + page history |   61.5 |    24.8 |
| consumers    | oracle: best constant per type×category×paid  |   63.1 |    53.4 |
| consumers    | boosted, with reach (after publishing!)       |   39.6 |    21.3 |
| interactions | median (baseline)                             |  194.3 |    51.3 |
| interactions | median per type (naive baseline)              |  187.7 |    50.5 |
| interactions | MAPE-optimal constant per type × paid         |   89.1 |    90.5 |
| interactions | boosted, MAPE loss, nested CV (Dialogo)       |   66.3 |    59.3 |
| interactions | boosted, quantile 0.25 on log (fixed)         |   62.9 |    50.7 |
| interactions | boosted, quantile 0.25 on log, + page history |   61.8 |    50.8 |
| interactions | oracle: best constant per type×category×paid  |   62.9 |    62.4 |
| interactions | boosted, with reach (after publishing!)       |   53.9 |    42.4 |

The goal, < 20 %, is not reached, and Moro et al.'s 27 % is not either: the best honest
figures are about 61 % on both outputs (the "fixed" rows' settings were picked by looking at
this data set, so they are optimistic by that choice; the page-history inputs help by 1-2
points, inside the run-to-run spread of about ±1-2 points seen with other seeds). Why: the
oracle that knows, for every post, the MAPE-optimal value of its type × category × paid group
over all 500 posts (test folds included) scores 63 %, so the models already do as well as
the pre-publication inputs allow; even the post's lifetime reach, known only afterwards,
leaves 40 % and 54 %. MAPE here is made by a few posts with tiny outcomes (9 consumers, 1
interaction: a post at 1 predicted at 50 adds 10 points on its own) that nothing known before
publishing singles out. A figure of 27 % on the 790 posts cannot be reproduced on these 500;
we cannot tell from here whether it comes from the 290 posts and the features the public file
lacks, or from a different validation.
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
    parser.add_argument("--models", help="model names separated by ';' (default: all)")
    args = parser.parse_args()
    facebook = args.data / "facebook_metrics" / "dataset_Facebook.csv"
    started = time.perf_counter()
    models = [m.strip() for m in args.models.split(";")] if args.models else None
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
