"""Spike detection against an hour-of-week baseline, as pure functions over arrays.

The history is hourly counts for the weeks before the hour being judged. The baseline for that
hour is the mean of the same weekday-and-hour in the previous weeks (so Monday 9:00 is compared
with earlier Mondays at 9:00, not with Sunday night), with a Poisson floor on the spread.

- A **volume** spike: ``observed ≥ mean + k·max(std, √mean, 1)`` and ``observed ≥ min_volume``.
- A **negative-share** spike: the hour's negative share exceeds the baseline share by ``k``
  binomial standard errors and by at least ``min_share_rise``, with ``observed ≥ min_volume``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

HOURS_PER_WEEK = 24 * 7


@dataclass(frozen=True)
class Verdict:
    spike: bool
    observed: float
    expected: float
    threshold: float


def same_hour_baseline(history: npt.ArrayLike) -> FloatPair:
    """Mean and std of the same hour-of-week in ``history`` (hourly values, oldest first,
    ending right before the judged hour; its length need not be a whole number of weeks)."""
    h = np.asarray(history, dtype=np.float64)
    if h.size == 0:
        return 0.0, 0.0
    # The judged hour is at index len(h); the same hour of earlier weeks sits at len(h) - 168·k.
    idx = np.arange(h.size - HOURS_PER_WEEK, -1, -HOURS_PER_WEEK)
    same = h[idx] if idx.size else h[-24:]  # less than a week of history: the last day
    return float(same.mean()), float(same.std())


FloatPair = tuple[float, float]


def volume_spike(
    history: npt.ArrayLike, observed: int, *, k: float = 3.0, min_volume: int = 10
) -> Verdict:
    mean, std = same_hour_baseline(history)
    spread = max(std, math.sqrt(mean), 1.0)
    threshold = max(mean + k * spread, float(min_volume))
    return Verdict(observed >= threshold, float(observed), mean, threshold)


def negative_share_spike(
    history_volume: npt.ArrayLike,
    history_negative: npt.ArrayLike,
    observed_volume: int,
    observed_negative: int,
    *,
    k: float = 3.0,
    min_volume: int = 10,
    min_share_rise: float = 0.15,
) -> Verdict:
    vol = np.asarray(history_volume, dtype=np.float64)
    neg = np.asarray(history_negative, dtype=np.float64)
    total = float(vol.sum())
    base = float(neg.sum()) / total if total else 0.0
    share = observed_negative / observed_volume if observed_volume else 0.0
    se = math.sqrt(max(base * (1 - base), 0.01) / max(observed_volume, 1))
    threshold = min(1.0, max(base + k * se, base + min_share_rise))
    spike = observed_volume >= min_volume and share >= threshold
    return Verdict(spike, share, base, threshold)


def expected_per_hour(hourly: npt.ArrayLike, shown: int, weeks: int) -> npt.NDArray[np.float64]:
    """The baseline of each of the last ``shown`` hours of ``hourly`` (oldest first): the mean
    of the same hour-of-week over the ``weeks`` weeks before it (the weeks that exist)."""
    h = np.asarray(hourly, dtype=np.float64)
    out = np.zeros(shown, dtype=np.float64)
    for j in range(shown):
        i = h.size - shown + j
        idx = i - HOURS_PER_WEEK * np.arange(1, weeks + 1)
        idx = idx[idx >= 0]
        out[j] = h[idx].mean() if idx.size else 0.0
    return out


@dataclass(frozen=True)
class Change:
    """One term, topic or author, in the spike's window against the baseline period."""

    key: str
    count: int  # in the window
    share: float  # of the window's mentions that have it
    baseline_share: float  # of the baseline's mentions that have it
    lift: float  # (share + ε) / (baseline_share + ε)


def changes(
    window: dict[str, int],
    baseline: dict[str, int],
    n_window: int,
    n_baseline: int,
    *,
    min_count: int = 2,
    limit: int = 10,
) -> list[Change]:
    """What the window's mentions talk about more than the baseline's: keys present in at
    least ``min_count`` window mentions, ordered by lift then count (smoothed so that a key
    unseen in a small baseline does not get an infinite lift)."""
    if n_window <= 0:
        return []
    eps = 1.0 / max(n_baseline + n_window, 1)
    found: list[Change] = []
    for key, count in window.items():
        if count < min_count:
            continue
        share = count / n_window
        base = baseline.get(key, 0) / n_baseline if n_baseline else 0.0
        lift = (share + eps) / (base + eps)
        if lift <= 1.0:
            continue
        found.append(Change(key, count, share, base, lift))
    found.sort(key=lambda c: (-round(c.lift, 6), -c.count, c.key))
    return found[:limit]
