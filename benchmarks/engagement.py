"""Engagement prediction on the Facebook metrics data set, and reaction timing on Klout's
When-To-Post sample.

    python benchmarks/engagement.py [--data /work/shared/data] [--folds 10] [--models "a;b"]
                                    [--outputs "consumers;fan_reach"] [--skip-headline]

Table 1: mean absolute percentage error of 10-fold cross-validated predictions of "Lifetime
Post Consumers" and "Total Interactions" from the inputs known before publishing (see
``dialogo.analytics.evaluation``), against the baseline of Moro, Rita and Vala (2016), about
27 %, the issue's goal, < 20 %, and the naive median-per-type baseline, in one run; the median
absolute percentage error and the mean absolute error beside it. The Dialogo model is tuned by
an inner cross-validation inside each outer training fold (nested). Table 3 (then its long
form and the same predictions by other formulas): every one of the paper's twelve outputs with
the same folds and models (``evaluate_outputs``; ``--outputs`` picks some, '' skips it).
Table 2 (printed last): how fast reactions come on the Klout sample (the data README gives no
numbers to compare with; the sample's posts all fall in one hour).
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
| interactions | boosted, MAPE loss on log (fixed) *           |   63.8 |    55.9 |
| interactions | boosted, quantile 0.25 on log (fixed) *       |   62.3 |    49.1 |
| interactions | boosted, quantile 0.25 on log, + page history*|   62.5 |    50.0 |
| interactions | oracle: best constant per type×category×paid  |   62.9 |    62.4 |
| interactions | boosted, with reach (after publishing!) *     |   53.3 |    41.4 |

(*) Re-measured 2026-12-06 16:30 after the fixed settings stopped weighting the 6 posts at 0
(MAPE leaves them out; they weighed as much as a post at 1 before, pulling predictions down);
the consumers rows did not change (no post at 0) but for the page-history row, 61.5 → 61.3.

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

Every output, the same protocol (table 3; 2026-12-06, 10-fold, seed 0, one run; load average
13-14 on 2 cores). MAPE % (MdAPE %). "ours" is one fixed model for all twelve, the boosted
``1/y``-weighted absolute error on ``log(1 + y)``; "best" (honest) is the lowest of the five
cross-validated pre-publication rows (MAPE-optimal constant per type × paid, SVR like the
paper's, ours, quantile + page history, linear weighted median with nested penalty), picked
after the fact, so optimistic by that choice. "in-sample" and "oracle" know every outcome;
"with reach" knows the post's reach (after publishing; left out for the reach outputs).

| output          | posts | naive | ours (MdAPE) | best | oracle | in-sample | w/ reach | paper |
|-----------------|-------|-------|--------------|------|--------|-----------|----------|-------|
| reach           |   500 |  83.3 |  46.4 (39.2) | 46.4 |   52.6 |      41.7 |        — |   ?   |
| impressions     |   500 |  77.8 |  46.0 (39.4) | 46.0 |   51.8 |      41.8 |        — |   ?   |
| engaged_users   |   500 | 107.4 |  66.2 (39.5) | 66.2 |   61.2 |      41.4 |     40.5 |   ?   |
| consumers       |   500 | 108.7 |  61.0 (34.5) | 61.0 |   63.1 |      39.4 |     39.6 |  ≈27  |
| consumptions    |   500 | 129.6 |  81.1 (39.7) | 66.0 |   67.7 |      44.2 |     48.8 |   ?   |
| fan_impressions |   500 |  68.1 |  45.3 (37.3) | 45.3 |   48.3 |      39.1 |        — |   ?   |
| fan_reach       |   500 |  70.9 |  44.4 (36.4) | 44.4 |   48.9 |      38.5 |        — |   ?   |
| fan_engaged     |   500 |  85.5 |  66.2 (36.2) | 56.6 |   55.9 |      39.3 |     33.5 |   ?   |
| comments        |   394 |  78.2 |  63.2 (66.9) | 59.7 |   58.8 |      51.2 |     62.4 |   ?   |
| likes           |   494 | 195.9 |  65.3 (59.6) | 64.7 |   65.2 |      53.1 |     55.8 |   ?   |
| shares          |   483 | 138.1 |  63.3 (53.0) | 63.3 |   60.3 |      45.4 |     56.8 |   ?   |
| interactions    |   494 | 187.7 |  63.8 (55.9) | 62.5 |   62.9 |      50.9 |     53.3 |   ?   |

(posts: those whose output is not 0, MAPE's denominator; MdAPE of the other columns in the
long table; "?": not published in what could be read, see below.)

Which output and which formula gives the paper's ≈ 27 %? Looked for (search of documentation,
web pages and public code, 2026-12-06): the abstract (ISCTE record above) says only that the
two best of the twelve outputs reach "around 27 %", one being consumers; Sam et al. (2018,
arXiv 1805.05579), who re-ran the public set with SVR, echo state networks and ANFIS for
comments, shares and likes, say that "few of the metrics obtained good results" by MAPE; the
public notebooks found (e.g. capac/facebook-metrics-data-set, jacobod/Facebook-Metrics-
Prediction, blantj/facebook_metrics_regression) report RMSE or R² (R² ≈ 0 to 0.15 from these
inputs), never MAPE; the paper's per-output table could not be read. rminer's formula is
confirmed in its source (cran/rminer, R/metrics.R): ``Mape = 100 * mean(abs((y - x) / y))``,
``Smape = 200 * mean(abs(y - x) / (abs(x) + abs(y)))``, the MAPE used here. Scoring the same
out-of-fold predictions by other formulas (the benchmark's last table): for consumers, the
paper-like SVR has MAPE 101.4, MdAPE 38.3, SMAPE 50.1, WAPE 48.3 and MAPE on ``log(1 + y)``
10.8 %; ours 61.0 / 34.5 / 60.5 / 57.9 / 11.9. No formula puts consumers near 27 %; MAPE on
the log scale comes near it only for likes, shares and interactions (SVR 24.7 / 28.8 / 22.4,
ours 21.4 / 26.8 / 19.4) while it gives consumers 11-12 %, which contradicts "one of the two
best is consumers". So no output and formula reproduces the figure on these 500 posts; it
stays a claim about the 790 posts, whose other 290 and validation we cannot see.

What the table says. Nothing is below 20 % by MAPE, on any output, nor near it: the best honest
figures are the reach family, 44-46 % (fan reach 44.4, fan impressions 45.3, impressions 46.0,
reach 46.4), then 57-66 % for the engagement outputs (fan_engaged 56.6, comments 59.7,
consumers 61.0, interactions 62.5, shares 63.3, likes 64.7, consumptions 66.0, engaged users
66.2). Reach is the most predictable because it scales smoothly with the page's audience and
paid promotion, which the inputs know; engagement multiplies that by a per-post response
the inputs do not see. The floors show why 20 % is out of reach: the boosted model scored on
the very posts it was fitted on (it has seen every outcome) still errs 38.5-53.1 %, the oracle
constant per type × category × paid 48-68 %, and knowing the post's reach after publishing
leaves 33.5-62.4 %. The headline for the issue (engagement, its two named outputs) is
consumers 61.0 % and interactions 62.5 % (MdAPE 34.5 and 50.0), against a naive 108.7 and
187.7; the paper's own kind of model (SVR, rminer-like defaults, raw outputs) scores 86.9-202.6 %
here (consumers 101.4), far above ours, so the gap to 27 % is the data and the validation, not
our model class. The product's predictor (``dialogo.analytics.predict``) stays the nested
:class:`~dialogo.analytics.engagement.TunedEngagementModel` (62.2 % on consumers in table 1):
the fixed rows that score 1-2 points less were chosen by looking at this data set.
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
    parser.add_argument(
        "--outputs",
        default=";".join(evaluation.OUTPUTS),
        help="outputs of table 3 separated by ';' (default: all twelve; '' skips the table)",
    )
    parser.add_argument("--skip-headline", action="store_true", help="skip table 1")
    args = parser.parse_args()
    facebook = args.data / "facebook_metrics" / "dataset_Facebook.csv"
    started = time.perf_counter()
    models = [m.strip() for m in args.models.split(";")] if args.models else None
    print(f"Facebook metrics ({facebook}), {args.folds}-fold cross-validation")
    print(f"baseline: Moro et al. 2016, MAPE ≈ {evaluation.REFERENCE_MAPE:.0f} %\n")
    if not args.skip_headline:
        results = evaluation.evaluate(facebook, folds=args.folds, models=models)
        print(evaluation.table(results))
        _timing(started)
    outputs = [o.strip() for o in args.outputs.split(";") if o.strip()]
    if outputs:
        started = time.perf_counter()
        every = evaluation.evaluate_outputs(facebook, folds=args.folds, outputs=outputs)
        print("Every output of the paper, the same folds; MAPE % (MdAPE %)\n")
        print(evaluation.summary_table(every))
        print()
        print(evaluation.table(every))
        print("\nThe same predictions by other formulas (which could be the paper's 27 %?)\n")
        print(evaluation.formulas_table(every))
        _timing(started)
    klout = args.data / "klout_when_to_post"
    if klout.is_dir():
        rows = [
            evaluation.reaction_timing(klout / f"user_timestamp_open_set_{net}.tsv", name)
            for net, name in (("fb", "facebook"), ("tw", "twitter"))
        ]
        print("Klout When-To-Post sample: delay from a post to its reactions\n")
        print(evaluation.timing_table(rows))


def _timing(started: float) -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n({time.perf_counter() - started:.0f} s; load average {load})\n", flush=True)


if __name__ == "__main__":
    main()
