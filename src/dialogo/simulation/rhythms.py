"""Activity rhythms: the probability of being online in each local hour of the week, by segment.

Each segment has a few bumps (peak hour, amplitude, width) on weekdays and others at weekends;
nights are quiet. ``online[s, h]`` is the chance that an average member of segment ``s`` looks
at the network during local hour-of-week ``h``; a person's own activity level multiplies it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from dialogo.simulation.clock import HOURS_PER_WEEK
from dialogo.simulation.config import Peak, SegmentSpec

ONLINE_SCALE = 0.25
ONLINE_FLOOR = 0.06
NIGHT_HOURS = (1, 2, 3, 4)
NIGHT_FACTOR = 0.3


def _day_profile(peaks: Sequence[Peak]) -> NDArray[np.float64]:
    hours = np.arange(24, dtype=np.float64)
    profile = np.full(24, ONLINE_FLOOR)
    for peak, amplitude, width in peaks:
        distance = np.abs(hours - peak)
        distance = np.minimum(distance, 24 - distance)
        profile += amplitude * np.exp(-0.5 * (distance / width) ** 2)
    profile[list(NIGHT_HOURS)] *= NIGHT_FACTOR
    return np.clip(ONLINE_SCALE * profile, 0.0, 0.95)


def online_matrix(segments: Sequence[SegmentSpec]) -> NDArray[np.float64]:
    """``(segments, 168)`` probabilities of being online, local hour of the week."""
    result = np.empty((len(segments), HOURS_PER_WEEK))
    for s, segment in enumerate(segments):
        weekday = _day_profile(segment.peaks_weekday)
        weekend = _day_profile(segment.peaks_weekend)
        result[s] = np.concatenate([weekday] * 5 + [weekend] * 2)
    result.setflags(write=False)
    return result


def peak_hours(online: NDArray[np.float64]) -> dict[str, NDArray[np.int64]]:
    """Local hour of the day with the most people online, on weekdays and at weekends."""
    by_day = online.reshape(online.shape[0], 7, 24)
    return {
        "weekday": by_day[:, :5, :].mean(axis=1).argmax(axis=1),
        "weekend": by_day[:, 5:, :].mean(axis=1).argmax(axis=1),
    }


def exposure_after(
    online: NDArray[np.float64], decay_hours: float, horizon_hours: int
) -> NDArray[np.float64]:
    """``(segments, 168)``: expected exposure of a post published at the start of each local hour
    of the week, ``Σ_h online[s, how + h] · exp(-h / decay)`` over the horizon."""
    weights = np.exp(-np.arange(horizon_hours) / decay_hours)
    index = (np.arange(HOURS_PER_WEEK)[:, None] + np.arange(horizon_hours)[None, :]) % 168
    result: NDArray[np.float64] = (online[:, index] * weights).sum(axis=2)
    return result


def best_post_hours(
    online: NDArray[np.float64], decay_hours: float, horizon_hours: int
) -> NDArray[np.int64]:
    """``(segments, 7)``: the local hour at which a post reaches most of a segment, per weekday."""
    exposure = exposure_after(online, decay_hours, horizon_hours).reshape(-1, 7, 24)
    result: NDArray[np.int64] = exposure.argmax(axis=2)
    return result
