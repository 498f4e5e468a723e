"""The crisis view's arithmetic, as pure functions over arrays."""

import numpy as np
import pytest

from dialogo.listening.alerts import HOURS_PER_WEEK, changes, expected_per_hour


def test_expected_per_hour_is_the_same_hour_of_earlier_weeks() -> None:
    weeks = 3
    hourly = np.zeros(weeks * HOURS_PER_WEEK + 4)
    # The last hour's earlier weeks: 3, 6, 9 → 6; the hour before: only one week with 12.
    for k, v in ((1, 3.0), (2, 6.0), (3, 9.0)):
        hourly[-1 - k * HOURS_PER_WEEK] = v
    hourly[-2 - HOURS_PER_WEEK] = 12.0
    got = expected_per_hour(hourly, 4, weeks)
    assert got[-1] == pytest.approx(6.0)
    assert got[-2] == pytest.approx(4.0)  # (12 + 0 + 0) / 3
    assert got[0] == 0.0
    # History shorter than the weeks asked for: the weeks that exist.
    short = np.zeros(HOURS_PER_WEEK + 1)
    short[0] = 5.0
    assert expected_per_hour(short, 1, 4)[0] == pytest.approx(5.0)
    assert expected_per_hour(np.zeros(3), 3, 4).tolist() == [0.0, 0.0, 0.0]


def test_changes_rank_what_is_said_more_than_usual() -> None:
    window = {"refund": 8, "acme": 10, "late": 3, "once": 1}
    baseline = {"acme": 100, "late": 30, "refund": 1}
    got = changes(window, baseline, n_window=10, n_baseline=100)
    assert [c.key for c in got] == ["refund"]  # "acme" and "late" are as usual; "once" rare
    refund = got[0]
    assert (refund.count, refund.share, refund.baseline_share) == (8, 0.8, 0.01)
    assert refund.lift > 10
    # A key never seen before gets a large but finite lift.
    new = changes({"outage": 5}, {}, n_window=5, n_baseline=0)
    assert new[0].key == "outage" and np.isfinite(new[0].lift)
    assert changes({}, {}, 0, 0) == []
    assert len(changes({f"w{i}": 5 for i in range(30)}, {}, 5, 10, limit=7)) == 7
