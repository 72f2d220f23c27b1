"""The global time split."""

from __future__ import annotations

from datetime import datetime

import pytest

from recsys_kedro.evaluation import SplitError, split_events_by_time
from tests.params import typed


def test_split_is_one_global_cut_off(events):
    rows = [
        (1, 10, "view", 0),
        (1, 20, "view", 50),
        (2, 10, "view", 65),
        (2, 20, "view", 70),
    ]
    train, test, info = split_events_by_time(
        events(rows), typed("time_split", {"test_days": 10})
    )
    assert sorted(r.product_id for r in train.collect()) == [10, 20]
    assert [r.user_id for r in test.collect()] == [2, 2]
    assert info["train"] == 2 and info["test"] == 2
    assert info["window"] == "configured"


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_data_shorter_than_the_window_shrinks_it_by_the_documented_rule(events, caplog):
    rows = [
        (1, 10, "view", 0),
        (1, 20, "view", 50),
        (2, 10, "view", 65),
        (2, 20, "view", 70),
    ]
    # 70 days of events, test_days 100: the test period is the last 20% = 14 days,
    # so the cut-off is day 56: days 0 and 50 train, 65 and 70 test.
    train, test, info = split_events_by_time(
        events(rows), typed("time_split", {"test_days": 100})
    )
    assert sorted(r.product_id for r in train.collect()) == [10, 20]
    assert sorted(r.user_id for r in test.collect()) == [2, 2]
    assert info["window"] == "shrunk" and info["test_days"] == pytest.approx(14.0)
    assert info["configured_test_days"] == 100
    assert info["cutoff"] == "2020-02-26 00:00:00"
    assert "Evaluation window shrunk" in caplog.text

    half = {"test_days": 100, "short_data_test_share": 0.5}  # cut-off day 35
    train, test, info = split_events_by_time(events(rows), typed("time_split", half))
    assert (info["train"], info["test"]) == (1, 3)

    # An explicit cut-off is the user's choice: outside the events it is an error.
    with pytest.raises(SplitError, match="leaves 0 training"):
        split_events_by_time(
            events(rows),
            typed("time_split", {"cutoff": datetime(2019, 1, 1), "test_days": 10}),
        )
    # Events at one instant have no span to split.
    with pytest.raises(SplitError, match="leaves 0 training"):
        split_events_by_time(
            events([(1, 10, "view", 3), (2, 20, "view", 3)]), typed("time_split", {})
        )


def test_explicit_cutoff_and_empty_events(events):
    rows = [(1, 10, "view", 0), (1, 20, "view", 5), (2, 30, "view", 9)]
    train, test, info = split_events_by_time(
        events(rows),
        typed("time_split", {"cutoff": datetime(2020, 1, 6), "test_days": 3}),
    )
    # test period: [Jan 6, Jan 9] inclusive -> day 5 (Jan 6) and day 8 would count
    assert [r.product_id for r in train.collect()] == [10]
    assert [r.product_id for r in test.collect()] == [20]
    assert info["cutoff"] == "2020-01-06 00:00:00"
    with pytest.raises(SplitError, match="empty"):
        split_events_by_time(events([]), typed("time_split", {"test_days": 3}))
