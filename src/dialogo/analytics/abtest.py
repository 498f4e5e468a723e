"""A/B test statistics as pure functions: Bayesian (Beta-Binomial) and frequentist
(two-proportion z-test), a stopping rule, the fixed-horizon sample size, and the audience
split.

* **Bayesian**: each arm's rate has a Beta(1 + successes, 1 + failures) posterior (uniform
  prior). ``probability_best`` and ``expected_loss`` (what choosing the arm costs, in rate, if
  another is really better: E[max_j p_j − p_i]) come from Monte Carlo draws of the posteriors
  (seeded: the same counts give the same answer); :func:`prob_b_beats_a` is the exact
  two-arm answer (Evan Miller's closed form) the draws are checked against.
* **Frequentist**: the pooled two-proportion z-test of each arm against the first (the
  control), two-sided.
* **Stopping rule** (:func:`decide`): stop as soon as the best arm's expected loss is below
  the test's threshold (and every arm has ``min_trials``), choosing it; or when every arm has
  reached the fixed-horizon sample size, choosing the best arm if the z-test is significant
  and "no difference" otherwise. Otherwise keep going.
* **Split** (:func:`assign`): a unit (a contact, a visitor) goes to an arm by a hash of the
  test and the unit, in proportion to the arms' weights: stable, and independent across tests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

DRAWS = 100_000


def _check(successes: Sequence[int], trials: Sequence[int]) -> None:
    if len(successes) != len(trials) or len(trials) < 2:
        raise ValueError("give successes and trials for at least two arms")
    for s, n in zip(successes, trials, strict=True):
        if n < 0 or s < 0 or s > n:
            raise ValueError(f"an arm has {s} successes out of {n} trials")


def prob_b_beats_a(sa: int, na: int, sb: int, nb: int) -> float:
    """Exact P(p_B > p_A) under uniform priors (Evan Miller's formula)."""
    _check([sa, sb], [na, nb])
    alpha_a, beta_a = 1 + sa, 1 + na - sa
    alpha_b, beta_b = 1 + sb, 1 + nb - sb
    i = np.arange(alpha_b)
    terms = (
        special.betaln(alpha_a + i, beta_a + beta_b)
        - np.log(beta_b + i)
        - special.betaln(1 + i, beta_b)
        - special.betaln(alpha_a, beta_a)
    )
    return float(np.exp(terms).sum())


@dataclasses.dataclass(frozen=True)
class Bayes:
    rates: tuple[float, ...]  # posterior means
    probability_best: tuple[float, ...]
    expected_loss: tuple[float, ...]


def bayesian(
    successes: Sequence[int], trials: Sequence[int], *, draws: int = DRAWS, seed: int = 0
) -> Bayes:
    _check(successes, trials)
    rng = np.random.default_rng(seed)
    s = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    samples: NDArray[np.float64] = rng.beta(1 + s, 1 + n - s, size=(draws, s.size))
    best = samples.max(axis=1)
    winners = np.bincount(samples.argmax(axis=1), minlength=s.size) / draws
    loss = (best[:, None] - samples).mean(axis=0)
    return Bayes(
        rates=tuple(((1 + s) / (2 + n)).tolist()),
        probability_best=tuple(winners.tolist()),
        expected_loss=tuple(loss.tolist()),
    )


@dataclasses.dataclass(frozen=True)
class ZTest:
    z: float
    p_value: float
    lift: float | None  # relative difference of the arm's rate over the control's


def z_test(s_control: int, n_control: int, s_arm: int, n_arm: int) -> ZTest:
    """Pooled two-proportion z-test, two-sided."""
    _check([s_control, s_arm], [n_control, n_arm])
    if n_control == 0 or n_arm == 0:
        return ZTest(0.0, 1.0, None)
    p1, p2 = s_control / n_control, s_arm / n_arm
    pooled = (s_control + s_arm) / (n_control + n_arm)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_control + 1 / n_arm))
    if se == 0:
        return ZTest(0.0, 1.0, None if p1 == 0 else (p2 - p1) / p1)
    z = (p2 - p1) / se
    return ZTest(z, float(2 * stats.norm.sf(abs(z))), None if p1 == 0 else (p2 - p1) / p1)


def sample_size(
    base_rate: float, min_effect: float, *, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Trials per arm to detect a relative lift ``min_effect`` over ``base_rate`` with a
    two-sided test at ``alpha`` and the given power (the normal approximation)."""
    if not 0 < base_rate < 1:
        raise ValueError("the base rate must be between 0 and 1")
    p2 = base_rate * (1 + min_effect)
    if min_effect <= 0 or not 0 < p2 < 1:
        raise ValueError("the minimum effect must be a positive lift that keeps the rate < 1")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must be between 0 and 1")
    za = stats.norm.ppf(1 - alpha / 2)
    zb = stats.norm.ppf(power)
    mean = (base_rate + p2) / 2
    top = za * math.sqrt(2 * mean * (1 - mean)) + zb * math.sqrt(
        base_rate * (1 - base_rate) + p2 * (1 - p2)
    )
    return math.ceil(float(top**2 / (p2 - base_rate) ** 2))


@dataclasses.dataclass(frozen=True)
class Decision:
    stop: bool
    winner: int | None  # the arm's index; None: keep going, or no difference
    reason: str  # "expected_loss" | "horizon_significant" | "horizon_no_difference" | "continue"
    horizon: int | None  # trials per arm of the fixed-horizon design (None: no base rate yet)


def decide(
    successes: Sequence[int],
    trials: Sequence[int],
    *,
    loss_threshold: float,
    alpha: float = 0.05,
    power: float = 0.8,
    min_effect: float = 0.1,
    min_trials: int = 100,
    seed: int = 0,
    bayes: Bayes | None = None,
) -> Decision:
    """``bayes``: :func:`bayesian` of the same counts when the caller has it already (its
    Monte Carlo draws are most of the cost); drawn here with ``seed`` otherwise."""
    _check(successes, trials)
    if bayes is None:
        bayes = bayesian(successes, trials, seed=seed)
    best = int(np.argmax(bayes.probability_best))
    horizon = None
    if trials[0] > 0 and 0 < successes[0] < trials[0]:
        try:
            horizon = sample_size(successes[0] / trials[0], min_effect, alpha=alpha, power=power)
        except ValueError:
            horizon = None
    if min(trials) >= min_trials and bayes.expected_loss[best] < loss_threshold:
        return Decision(True, best, "expected_loss", horizon)
    if horizon is not None and min(trials) >= horizon:
        rates = [s / n for s, n in zip(successes, trials, strict=True)]
        top = int(np.argmax(rates))
        if top != 0:
            significant = z_test(successes[0], trials[0], successes[top], trials[top]).p_value
        else:  # the control leads: is it significantly better than the runner-up?
            second = int(np.argsort(rates)[-2])
            significant = z_test(successes[second], trials[second], successes[0], trials[0]).p_value
        # Bonferroni across the comparisons with the control.
        if significant < alpha / (len(trials) - 1):
            return Decision(True, top, "horizon_significant", horizon)
        return Decision(True, None, "horizon_no_difference", horizon)
    return Decision(False, None, "continue", horizon)


def assign(test_id: int, unit: str, weights: Sequence[float]) -> int:
    """The arm (index) a unit belongs to, by a stable hash, in proportion to ``weights``."""
    if not weights or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("the weights must be non-negative and not all zero")
    digest = hashlib.sha256(f"{test_id}:{unit}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    edges = np.cumsum(np.asarray(weights, dtype=np.float64)) / float(sum(weights))
    return min(int(np.searchsorted(edges, u, side="right")), len(weights) - 1)
