"""The global time split."""

from __future__ import annotations

from datetime import datetime

import pytest

from recsys_kedro.evaluation import SplitError, split_events_by_time


def test_split_is_one_global_cut_off(events):
    rows = [
        (1, 10, "view", 0),
        (1, 20, "view", 50),
        (2, 10, "view", 65),
        (2, 20, "view", 70),
    ]
    train, test, info = split_events_by_time(events(rows), {"test_days": 10})
    assert sorted(r.product_id for r in train.collect()) == [10, 20]
    assert [r.user_id for r in test.collect()] == [2, 2]
    assert info["train"] == 2 and info["test"] == 2
    with pytest.raises(SplitError, match="leaves 0 training"):
        split_events_by_time(events(rows), {"test_days": 100})


def test_explicit_cutoff_and_empty_events(events):
    rows = [(1, 10, "view", 0), (1, 20, "view", 5), (2, 30, "view", 9)]
    train, test, info = split_events_by_time(
        events(rows), {"cutoff": datetime(2020, 1, 6), "test_days": 3}
    )
    # test period: [Jan 6, Jan 9] inclusive -> day 5 (Jan 6) and day 8 would count
    assert [r.product_id for r in train.collect()] == [10]
    assert [r.product_id for r in test.collect()] == [20]
    assert info["cutoff"] == "2020-01-06 00:00:00"
    with pytest.raises(SplitError, match="empty"):
        split_events_by_time(events([]), {"test_days": 3})
