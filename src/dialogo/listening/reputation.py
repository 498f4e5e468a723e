"""Reputation figures as pure functions over arrays (no session, no I/O).

Inputs are parallel arrays, one element per mention: the time bucket index, the sentiment value
(-1..1; a person's correction counts as -1, 0 or 1) and the author's reach. Outputs per bucket:

- ``volume``: mentions;
- ``net``: (positive − negative) / volume, in -1..1 (0 for an empty bucket);
- ``weighted``: the sentiment weighted by ``log1p(reach) + 1`` — a large audience counts more
  without letting one celebrity drown everyone else;
- ``negative_share``: negative / volume.
Share of voice is one brand's volume over the volume of the brand and its competitors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

NEUTRAL_BAND = 0.05

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Series:
    volume: IntArray
    positive: IntArray
    negative: IntArray
    net: FloatArray
    weighted: FloatArray
    negative_share: FloatArray


def series(
    buckets: npt.ArrayLike, sentiment: npt.ArrayLike, reach: npt.ArrayLike, n_buckets: int
) -> Series:
    b = np.asarray(buckets, dtype=np.int64)
    s = np.asarray(sentiment, dtype=np.float64)
    r = np.maximum(np.asarray(reach, dtype=np.float64), 0.0)
    if b.shape != s.shape or b.shape != r.shape:
        raise ValueError("buckets, sentiment and reach must have the same length")
    keep = (b >= 0) & (b < n_buckets)
    b, s, r = b[keep], s[keep], r[keep]
    volume = np.bincount(b, minlength=n_buckets).astype(np.int64)
    positive = np.bincount(b, weights=(s >= NEUTRAL_BAND), minlength=n_buckets).astype(np.int64)
    negative = np.bincount(b, weights=(s <= -NEUTRAL_BAND), minlength=n_buckets).astype(np.int64)
    w = np.log1p(r) + 1.0
    wsum = np.bincount(b, weights=w, minlength=n_buckets)
    wsent = np.bincount(b, weights=w * s, minlength=n_buckets)
    with np.errstate(invalid="ignore", divide="ignore"):
        net = np.where(volume > 0, (positive - negative) / np.maximum(volume, 1), 0.0)
        weighted = np.where(wsum > 0, wsent / np.where(wsum > 0, wsum, 1.0), 0.0)
        neg_share = np.where(volume > 0, negative / np.maximum(volume, 1), 0.0)
    return Series(volume, positive, negative, net, weighted, neg_share)


def share_of_voice(volumes: dict[int, int]) -> dict[int, float]:
    """Each query's share of the total volume (0 for all when there is none)."""
    total = sum(volumes.values())
    return {k: (v / total if total else 0.0) for k, v in volumes.items()}
