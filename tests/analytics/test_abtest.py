"""A/B statistics on known answers: the z-test, the classic sample size, the exact two-arm
posterior probability (and the Monte Carlo that must agree with it), the stopping rule, the
split; bad counts refused."""

from __future__ import annotations

from collections import Counter

import pytest

from dialogo.analytics import abtest


def test_two_proportion_z_test_known_answer() -> None:
    # 200/1000 vs 250/1000: pooled 0.225, se 0.018675, z 2.6774, p 0.00742.
    result = abtest.z_test(200, 1000, 250, 1000)
    assert result.z == pytest.approx(2.6774, abs=1e-3)
    assert result.p_value == pytest.approx(0.00742, abs=5e-5)
    assert result.lift == pytest.approx(0.25)
    assert abtest.z_test(0, 0, 5, 10).p_value == 1.0


def test_sample_size_known_answer() -> None:
    # The textbook case: 50 % vs 60 %, alpha 0.05 two-sided, power 0.8: 388 per arm.
    assert abtest.sample_size(0.5, 0.2) == 388
    assert abtest.sample_size(0.1, 0.1) > abtest.sample_size(0.1, 0.2)
    for bad in ((0.0, 0.1), (0.5, 0.0), (0.9, 0.5)):
        with pytest.raises(ValueError):
            abtest.sample_size(*bad)


def test_exact_probability_and_monte_carlo_agree() -> None:
    # Symmetric counts: exactly one half.
    assert abtest.prob_b_beats_a(10, 100, 10, 100) == pytest.approx(0.5, abs=1e-9)
    # 1/1 vs 0/1 with uniform priors: P(Beta(2,1) > Beta(1,2)) = 5/6.
    assert abtest.prob_b_beats_a(0, 1, 1, 1) == pytest.approx(5 / 6, abs=1e-9)
    exact = abtest.prob_b_beats_a(40, 1000, 55, 1000)
    bayes = abtest.bayesian([40, 55], [1000, 1000], draws=200_000, seed=3)
    assert bayes.probability_best[1] == pytest.approx(exact, abs=0.005)
    assert sum(bayes.probability_best) == pytest.approx(1.0)
    assert bayes.expected_loss[1] < bayes.expected_loss[0]
    assert bayes.rates[0] == pytest.approx(41 / 1002)


def test_stopping_rule() -> None:
    # A clear winner with plenty of data: stop on expected loss, choose arm B.
    clear = abtest.decide([100, 200], [5000, 5000], loss_threshold=0.001)
    assert clear.stop and clear.winner == 1 and clear.reason == "expected_loss"
    # Too little data: keep going.
    early = abtest.decide([3, 5], [50, 60], loss_threshold=0.0001)
    assert not early.stop and early.winner is None and early.reason == "continue"
    # Equal arms past the fixed horizon: stop, no difference.
    horizon = abtest.sample_size(0.1, 0.1)
    n = horizon + 10
    same = abtest.decide([n // 10, n // 10], [n, n], loss_threshold=1e-9)
    assert same.stop and same.winner is None and same.reason == "horizon_no_difference"
    assert same.horizon == abtest.sample_size((n // 10) / n, 0.1)


def test_decide_reuses_the_callers_draws() -> None:
    # A test's result draws once and hands the draws to decide: the same decision as drawing
    # again with the same seed, and the draws given are the ones used.
    counts = ([30, 41], [400, 410])
    drawn = abtest.bayesian(*counts, seed=5)
    given = abtest.decide(*counts, loss_threshold=0.01, seed=5, bayes=drawn)
    assert given == abtest.decide(*counts, loss_threshold=0.01, seed=5)
    certain = abtest.Bayes(rates=(0.1, 0.2), probability_best=(0.0, 1.0), expected_loss=(1.0, 0.0))
    chosen = abtest.decide(*counts, loss_threshold=0.01, bayes=certain)
    assert chosen.stop and chosen.winner == 1 and chosen.reason == "expected_loss"


def test_split_is_stable_and_follows_the_weights() -> None:
    arms = [abtest.assign(7, f"contact-{i}", [1, 3]) for i in range(8000)]
    assert arms == [abtest.assign(7, f"contact-{i}", [1, 3]) for i in range(8000)]
    share = Counter(arms)[1] / len(arms)
    assert share == pytest.approx(0.75, abs=0.02)
    # Another test splits the same people independently.
    other = [abtest.assign(8, f"contact-{i}", [1, 3]) for i in range(8000)]
    assert arms != other


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="successes out of"):
        abtest.bayesian([5, 11], [10, 10])
    with pytest.raises(ValueError, match="two arms"):
        abtest.bayesian([1], [10])
    with pytest.raises(ValueError, match="successes out of"):
        abtest.z_test(1, 10, 1, -1)
    with pytest.raises(ValueError, match="weights"):
        abtest.assign(1, "x", [0, 0])
